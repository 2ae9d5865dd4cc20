#!/bin/sh
# Prepare a running systemd container (name in $1, from build_image.sh's image) as a PLAT_07 target:
# a `motorcade` database with rows, root allowed to log in as postgres over the socket (as in motorcade-postgres),
# and a SeaweedFS S3 server (the wheel's `weed`) with one identity and the bucket, all inside the container.
# Usage: prepare_target.sh CONTAINER ACCESS_KEY SECRET_KEY BUCKET
set -eu
c=$1 access=$2 secret=$3 bucket=$4
weed=$(python3 -c 'import sys, pathlib; print(pathlib.Path(sys.executable).parent / "weed")')
podman cp "$weed" "$c:/usr/local/bin/weed"
# This machine reaches PyPI through an egress proxy with its own CA: let the target trust what the machine trusts.
for crt in /usr/local/share/ca-certificates/*.crt; do
  [ -e "$crt" ] && podman cp "$crt" "$c:/usr/local/share/ca-certificates/"
done
podman exec "$c" sh -c 'update-ca-certificates >/dev/null && printf "[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n" > /etc/pip.conf'
podman exec -i "$c" sh -eu <<INNER
printf 'root_as_postgres root postgres\nroot_as_postgres postgres postgres\n' >> /etc/postgresql/15/main/pg_ident.conf
sed -i '0,/^local/s//local   all   postgres   peer map=root_as_postgres\nlocal/' /etc/postgresql/15/main/pg_hba.conf
systemctl restart postgresql@15-main
psql -U postgres -h /var/run/postgresql -c 'CREATE DATABASE motorcade' postgres
psql -U postgres -h /var/run/postgresql -d motorcade -c "CREATE SCHEMA leads; CREATE TABLE leads.leads (id serial PRIMARY KEY, name text, email text); INSERT INTO leads.leads (name, email) SELECT 'Lead ' || g, 'l' || g || '@example.org' FROM generate_series(1, 1000) g;"
mkdir -p /srv/weed/data
printf '{"identities":[{"name":"backup","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List"]}]}' '$access' '$secret' > /srv/weed/s3.json
chmod 600 /srv/weed/s3.json
systemd-run --unit=mcb-weed /usr/local/bin/weed server -dir=/srv/weed/data -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3 -s3.port=8333 -s3.config=/srv/weed/s3.json -s3.port.iceberg=0 -s3.port.lance=0 -master.volumeSizeLimitMB=1024 -volume.max=0
for i in \$(seq 1 60); do
  if echo "s3.bucket.create -name $bucket" | /usr/local/bin/weed shell -master=127.0.0.1:9333 2>&1 | grep -qv -i error; then break; fi
  sleep 1
done
INNER
