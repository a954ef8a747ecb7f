-- Found only through svcdir's own directory.
return { answer = "from the service's directory" }
