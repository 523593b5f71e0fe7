#!/usr/bin/env bash
# Builds a stand-in for the official node:22-bookworm-slim image from Debian's packages and the
# Node.js that runs this script, for machines that cannot pull from Docker Hub:
#
#   sudo deploy/local-base-image.sh [TAG]        # default TAG: portcullis-base/node:22-bookworm-slim
#   docker build --build-arg NODE_IMAGE=portcullis-base/node:22-bookworm-slim -t portcullis .
#
# Needs root, debootstrap (Debian's package), a running Docker daemon, and Node.js 22.13+ with its
# headers (include/node) beside its bin/, as npm's `node@22` package and the official tarballs have.
# The image gets Debian bookworm (minbase, ca-certificates), node in /usr/local/bin, npm and npx,
# like the official image. If NODE_EXTRA_CA_CERTS names a file (a TLS-inspecting egress proxy),
# the image trusts it too, so `npm ci` inside `docker build` can reach the registry.
set -euo pipefail
TAG="${1:-portcullis-base/node:22-bookworm-slim}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
NODE="$(command -v node)"
NODE_HOME="$(cd "$(dirname "$(readlink -f "$NODE")")/.." && pwd)"
NPM_HOME="$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)"
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 13) ? 0 : 1)' ||
  { echo "local-base-image: node $(node -v) is older than 22.13" >&2; exit 1; }
[ -d "$NODE_HOME/include/node" ] || { echo "local-base-image: no headers at $NODE_HOME/include/node" >&2; exit 1; }
[ -f "$NPM_HOME/bin/npm-cli.js" ] || { echo "local-base-image: npm not found at $NPM_HOME" >&2; exit 1; }

ROOTFS="$(mktemp -d "${TMPDIR:-/tmp}/portcullis-rootfs.XXXXXX")"
trap 'rm -rf "$ROOTFS"' EXIT
debootstrap --variant=minbase --include=ca-certificates bookworm "$ROOTFS" "$MIRROR" >/dev/null

install -m 0755 "$NODE_HOME/bin/node" "$ROOTFS/usr/local/bin/node"
mkdir -p "$ROOTFS/usr/local/include" "$ROOTFS/usr/local/lib/node_modules"
cp -a "$NODE_HOME/include/node" "$ROOTFS/usr/local/include/node"
cp -a "$NPM_HOME" "$ROOTFS/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"
CHANGES=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["node"]')
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  install -m 0644 "$NODE_EXTRA_CA_CERTS" "$ROOTFS/usr/local/share/ca-certificates/egress.crt"
  cp "$NODE_EXTRA_CA_CERTS" "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
  CHANGES+=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/egress.crt')
fi
# What debootstrap leaves that an image does not need.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/usr/share/doc "$ROOTFS"/usr/share/man
tar -C "$ROOTFS" -c . | docker import "${CHANGES[@]}" - "$TAG" >/dev/null
docker run --rm "$TAG" node -e 'console.log(`local-base-image: ${process.argv[1]}: node ${process.version}`)' "$TAG"
