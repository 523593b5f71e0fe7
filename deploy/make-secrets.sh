#!/bin/sh
# Makes the secret files compose.yaml mounts, in ./secrets (or the folder given), with random
# values. A file that exists is kept: changing HASH_PEPPER or KEY_ENCRYPTION_KEY later would
# invalidate every stored secret and signing key. Run from the repository's folder:
#
#   deploy/make-secrets.sh [FOLDER]
#
# Compose (without swarm) mounts each file with its mode and owner on this machine. Run as root,
# each file is made readable only by the user of the container that reads it (10001 for
# Portcullis, 999 for the postgres and redis images); otherwise they are 0644 inside a 0700
# folder, and Portcullis logs a warning that they are readable by others (inside the container).
set -eu
dir="${1:-secrets}"
mkdir -p "$dir"
chmod 0700 "$dir"

random() { head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }

# write NAME OWNER CONTENT
write() {
  file="$dir/$1"
  if [ -e "$file" ]; then
    echo "make-secrets: $file exists, kept"
    return
  fi
  umask 077
  printf '%s\n' "$3" >"$file"
  if [ "$(id -u)" = 0 ]; then
    chown "$2:$2" "$file"
    chmod 0400 "$file"
  else
    chmod 0644 "$file"
  fi
  echo "make-secrets: wrote $file"
}

# The passwords appear in two files each (the server's and the client's), so read back what is kept.
write postgres_password 999 "$(random)"
postgres_password="$(cat "$dir/postgres_password")"
write database_url 10001 "postgresql://portcullis:$postgres_password@postgres:5432/portcullis"
write redis_conf 999 "$(printf 'requirepass %s\nsave ""\nappendonly no\nprotected-mode no\nbind * -::*\n' "$(random)")"
redis_password="$(sed -n 's/^requirepass //p' "$dir/redis_conf")"
write redis_url 10001 "redis://:$redis_password@redis:6379"
write cookie_keys 10001 "$(random)"
write key_encryption_key 10001 "$(random)"
write hash_pepper 10001 "$(random)"
