#!/bin/sh
# The steps of the container image (Dockerfile), one phase per RUN, kept here so that a test
# (test/deploy/image-steps.test.ts) runs the very commands the image build runs, on a copy of the
# sources, on machines that cannot build images.
#
#   deploy/image-steps.sh toolchain   build stage: python3, make and g++ for better-sqlite3 (apt-get, only if missing)
#   deploy/image-steps.sh install     build stage, in the app folder: production install; the build runs at install
#   deploy/image-steps.sh user        runtime stage (root): the unprivileged user, /data, and /app/data -> /data
#
# POSIX sh: the base image's /bin/sh is dash.
set -eu

phase="${1:-}"
case "$phase" in
  toolchain)
    # better-sqlite3 compiles from source at install (no prebuilt binary is downloaded here).
    if command -v python3 >/dev/null 2>&1 && command -v make >/dev/null 2>&1 && command -v g++ >/dev/null 2>&1; then
      echo "image-steps: python3, make and g++ are present"
    else
      apt-get update
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 make g++
      rm -rf /var/lib/apt/lists/*
    fi
    ;;
  install)
    # Production dependencies only. postinstall builds: prisma generate, then tsc to dist/
    # (typescript and prisma are production dependencies for this reason).
    # node-gyp compiles better-sqlite3 against the headers that ship beside node (official images
    # and tarballs have include/node) instead of downloading them from nodejs.org.
    if [ -z "${npm_config_nodedir:-}" ]; then
      node_prefix="$(dirname "$(dirname "$(command -v node)")")"
      if [ -f "$node_prefix/include/node/node.h" ]; then
        npm_config_nodedir="$node_prefix"
        export npm_config_nodedir
      fi
    fi
    npm ci --omit=dev --no-audit --no-fund
    test -f dist/cli/main.js || { echo "image-steps: the install did not build dist/cli/main.js" >&2; exit 1; }
    # Nothing a devDependency brings may be installed, and the runtime must not need the sources.
    if [ -e node_modules/jest ] || [ -e node_modules/eslint ] || [ -e node_modules/tsx ]; then
      echo "image-steps: a devDependency was installed" >&2
      exit 1
    fi
    # Build-only leftovers the runtime stage does not copy anyway; removed so the build stage
    # itself holds what the runtime gets.
    rm -rf node_modules/.cache
    ;;
  user)
    # A user without a login shell or home; it owns only /data (the app's files stay root's,
    # so the process cannot change its own code even without --read-only).
    # (A fixed uid above the system range, so secret files and volumes can be owned by it on the host.)
    groupadd --gid 10001 portcullis
    useradd --uid 10001 --gid portcullis --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --no-log-init portcullis
    mkdir -p /data /app
    chown portcullis:portcullis /data
    chmod 0700 /data
    # The data directory's default (./data: DATABASE_URL's default file:./data/portcullis.db, the
    # mail outbox) is the volume, so DATABASE_URL or DATABASE_URL_FILE may be given without the other.
    ln -s /data /app/data
    ;;
  *)
    echo "usage: $0 toolchain|install|user" >&2
    exit 2
    ;;
esac
