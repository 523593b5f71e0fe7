# Portcullis: a production image in two stages. The build stage has the toolchain and runs the
# production install (`npm ci --omit=dev`, which builds dist/ at install); the runtime stage gets
# only package.json, the production node_modules, dist/, the migrations, the views and scripts/, and runs as
# an unprivileged user. Everything it writes goes under /data (SQLite database, mail outbox) and
# /tmp, so it runs with a read-only root filesystem:
#
#   docker build -t portcullis .
#   docker run --read-only --tmpfs /tmp -v portcullis-data:/data -p 3000:3000 \
#     -e ISSUER=https://id.example.com -e COOKIE_KEYS_FILE=… -e KEY_ENCRYPTION_KEY_FILE=… -e HASH_PEPPER_FILE=… portcullis
#
# The base image is an argument so a local stand-in can replace Docker Hub's
# (deploy/local-base-image.sh builds one from Debian's packages):
#   docker build --build-arg NODE_IMAGE=portcullis-base/node:22-bookworm-slim -t portcullis .
# Each RUN is a phase of deploy/image-steps.sh, which test/deploy runs on machines without Docker.
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
ENV npm_config_update_notifier=false
WORKDIR /app
COPY deploy/image-steps.sh deploy/image-steps.sh
RUN sh deploy/image-steps.sh toolchain
# The install builds (postinstall), so it needs the sources: .dockerignore keeps out the rest.
COPY . .
RUN sh deploy/image-steps.sh install

FROM ${NODE_IMAGE} AS runtime
COPY deploy/image-steps.sh /usr/local/lib/portcullis-image-steps.sh
RUN sh /usr/local/lib/portcullis-image-steps.sh user && rm /usr/local/lib/portcullis-image-steps.sh
WORKDIR /app
# Owned by root and not writable by the app's user: the process cannot change its own code.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/prisma ./prisma
COPY --from=build /app/views ./views
# dist/cli/main.js imports scripts/node-version.mjs (the Node.js version check).
COPY --from=build /app/scripts ./scripts
COPY --from=build /app/deploy/healthcheck.mjs ./deploy/healthcheck.mjs
# WORKERS is left to its default: one worker per core in production. DATABASE_URL is left to its
# default, file:./data/portcullis.db, which is /data/portcullis.db here (/app/data links to the
# volume), so that DATABASE_URL_FILE can be given instead (setting both is refused).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
VOLUME /data
USER portcullis:portcullis
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["node", "deploy/healthcheck.mjs"]
# node itself, not `npm start`: npm writes logs under $HOME, and scripts/start.mjs would look for a
# newer source tree, which the image does not have (dist/ was built at install).
CMD ["node", "dist/cli/main.js", "serve"]
