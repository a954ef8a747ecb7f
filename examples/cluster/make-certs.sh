#!/usr/bin/env bash
# Makes a cluster authority and a certificate for each node named on the
# command line, with openssl: make-certs.sh DIR node...
#
# DIR/ca.pem is the authority every node trusts (cluster_ca); DIR/NODE.pem
# and DIR/NODE.key are that node's cluster_cert and cluster_key. A node's
# certificate carries its name in the cluster map as a DNS name, and is good
# for both ends of a link. Keep ca.key away from the nodes: whoever has it
# can make a node.
set -euo pipefail
dir=${1:?usage: make-certs.sh DIR node...}
shift
[ $# -gt 0 ] || { echo "usage: make-certs.sh DIR node..." >&2; exit 2; }
mkdir -p "$dir"
cd "$dir"
if [ ! -f ca.pem ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout ca.key -out ca.pem -days 3650 -subj "/CN=skyhold cluster authority" 2>/dev/null
    chmod 600 ca.key
fi
for node in "$@"; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$node.key" -out "$node.csr" -subj "/CN=$node" 2>/dev/null
    printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' "$node" > "$node.ext"
    openssl x509 -req -in "$node.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
        -out "$node.pem" -days 825 -extfile "$node.ext" 2>/dev/null
    rm -f "$node.csr" "$node.ext"
    chmod 600 "$node.key"
    echo "$dir/$node.pem, $dir/$node.key"
done
