#!/bin/sh
# Regenerates the test certificates (valid 100 years): a CA, server certificates
# signed by it, and a few broken files for error tests. Run from this directory.
set -e
openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj "/CN=lbd test CA" -keyout ca.key -out ca.crt 2>/dev/null
leaf() { # name, SAN list
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$1.key.tmp" -out "$1.csr" 2>/dev/null
  printf "subjectAltName=%s\n" "$2" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 36500 -extfile "$1.ext" -out "$1.crt.tmp" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
leaf www.example.test "DNS:www.example.test,DNS:*.example.test"
cat www.example.test.crt.tmp www.example.test.key.tmp > www.example.test.pem
leaf other.test "DNS:other.test"
cat other.test.crt.tmp other.test.key.tmp > other.test.pem
leaf split.example.test "DNS:split.example.test"
cp split.example.test.crt.tmp split.pem; cp split.example.test.key.tmp split.pem.key
cp other.test.crt.tmp nokey.pem
cat other.test.crt.tmp www.example.test.key.tmp > mismatch.pem
# a client certificate for verify tests
leaf client.example.test "DNS:client.example.test"
cat client.example.test.crt.tmp client.example.test.key.tmp > client.pem
rm -f *.tmp ca.srl
# a second CA and a www.example.test certificate signed by it (a server whose
# certificate fails `verify required ca-file ca.crt`); the CA key is not kept
openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj "/CN=lbd other CA" -keyout other-ca.key.tmp -out other-ca.crt.tmp 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=www.example.test" -keyout wrongca.key.tmp -out wrongca.csr 2>/dev/null
printf "subjectAltName=DNS:www.example.test,DNS:*.example.test\n" > wrongca.ext
openssl x509 -req -in wrongca.csr -CA other-ca.crt.tmp -CAkey other-ca.key.tmp -CAcreateserial -days 36500 -extfile wrongca.ext -out wrongca.crt.tmp 2>/dev/null
cat wrongca.crt.tmp wrongca.key.tmp > wrongca.pem
rm -f wrongca.csr wrongca.ext *.tmp other-ca.crt.srl
# an X.509 v1 certificate (no extensions at all, as some of HAProxy's test files)
openssl req -newkey rsa:2048 -nodes -subj "/CN=v1.example.test" -keyout v1.key.tmp -out v1.csr 2>/dev/null
openssl x509 -req -in v1.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 36500 -out v1.crt.tmp 2>/dev/null
cat v1.crt.tmp v1.key.tmp > v1.pem
rm -f v1.csr *.tmp ca.srl
# a certificate whose CN is not among its subjectAltNames (SNI takes both, as HAProxy)
leaf cn.example.test "DNS:alt.example.test"
cat cn.example.test.crt.tmp cn.example.test.key.tmp > cn-not-in-san.pem
rm -f *.tmp ca.srl
