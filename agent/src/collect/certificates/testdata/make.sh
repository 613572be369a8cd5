#!/bin/sh
# Generates the certificate inventory's fixtures (run once; see SOURCES.md). OpenSSL 3.
set -eu
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
days=36500

# Root CA (EC P-256) and intermediate CA (RSA 3072).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/root.key" \
  -out root-ca.pem -days $days -subj "/O=Unity Test/CN=Unity Test Root" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
openssl req -newkey rsa:3072 -nodes -keyout "$work/int.key" -out "$work/int.csr" \
  -subj "/O=Unity Test/CN=Unity Test Intermediate"
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' > "$work/int.ext"
openssl x509 -req -in "$work/int.csr" -CA root-ca.pem -CAkey "$work/root.key" -CAcreateserial \
  -days $days -extfile "$work/int.ext" -out intermediate.pem

# Leaf (RSA 2048) issued by the intermediate: served by the TLS tests, so its key is here.
openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out "$work/leaf.csr" \
  -subj "/O=Home/CN=leaf.home.arpa"
printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:leaf.home.arpa,DNS:*.apps.home.arpa,IP:192.0.2.10,email:admin@home.arpa\n' > "$work/leaf.ext"
openssl x509 -req -in "$work/leaf.csr" -CA intermediate.pem -CAkey "$work/int.key" -CAcreateserial \
  -days $days -extfile "$work/leaf.ext" -out leaf.pem
cat leaf.pem intermediate.pem > fullchain.pem
openssl x509 -in leaf.pem -outform DER -out leaf.der
# The chain in the wrong order: intermediate first.
cat intermediate.pem leaf.pem > wrong-order.pem

# HAProxy-style combined file: leaf (EC P-384) then its key.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$work/combined.key" \
  -out "$work/combined.csr" -subj "/CN=proxy.home.arpa"
printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:proxy.home.arpa\n' > "$work/combined.ext"
openssl x509 -req -in "$work/combined.csr" -CA intermediate.pem -CAkey "$work/int.key" \
  -CAcreateserial -days $days -extfile "$work/combined.ext" -out "$work/combined.pem"
cat "$work/combined.pem" "$work/combined.key" > combined.pem

# Self-signed Ed25519 leaf (not a CA).
openssl req -x509 -newkey ed25519 -nodes -keyout "$work/self.key" -out selfsigned.crt -days $days \
  -subj "/CN=printer.home.arpa" -addext "basicConstraints=critical,CA:FALSE" \
  -addext "subjectAltName=DNS:printer.home.arpa"

# Expired: valid 2020-01-01 to 2021-01-01, issued by the intermediate with `openssl ca`.
mkdir -p "$work/ca"
: > "$work/ca/index.txt"
cat > "$work/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $work/ca/index.txt
new_certs_dir = $work/ca
serial = $work/ca/serial
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = leaf
[any]
commonName = supplied
[leaf]
basicConstraints = CA:FALSE
subjectAltName = DNS:old.home.arpa
CNF
echo 1000 > "$work/ca/serial"
openssl req -newkey rsa:2048 -nodes -keyout "$work/old.key" -out "$work/old.csr" -subj "/CN=old.home.arpa"
openssl ca -batch -config "$work/ca.cnf" -cert intermediate.pem -keyfile "$work/int.key" \
  -startdate 20200101000000Z -enddate 20210101000000Z -in "$work/old.csr" -out "$work/old.pem" -notext
openssl x509 -in "$work/old.pem" -out expired.pem

# Broken: the first half of a PEM certificate (no END line), and bytes that are no certificate.
head -c 700 leaf.pem > truncated.pem
printf '0\202\001\000this is not DER at all' > garbage.der

# A CA bundle (three roots) that must be left out.
for n in 1 2; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/b$n.key" \
    -out "$work/b$n.pem" -days $days -subj "/CN=Bundle Root $n" -addext "basicConstraints=critical,CA:TRUE"
done
cat root-ca.pem "$work/b1.pem" "$work/b2.pem" > ca-bundle.pem

# PKCS#12 (reported as not supported).
openssl pkcs12 -export -in leaf.pem -inkey leaf.key -passout pass:test -out leaf.p12
rm -f intermediate.srl root-ca.srl
