-- The cluster map (skynet's format): node name = "host:port". Both nodes
-- read it; cluster.reload() reads it again.
db = "127.0.0.1:2528"
game = "127.0.0.1:2529"
