#!/usr/bin/env node
// The container's HEALTHCHECK: GET /readyz on this process's own port (MANAGEMENT_PORT when set,
// where /readyz then lives, else PORT). Exit 0 when ready, 1 otherwise. Node itself makes the
// request: slim images have no curl or wget.
/* global AbortSignal */
const port = process.env.MANAGEMENT_PORT || process.env.PORT || '3000';
const url = `http://127.0.0.1:${port}/readyz`;
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(4000) });
  const body = await response.text();
  if (!response.ok) {
    console.error(`healthcheck: ${url} answered ${response.status} ${body.slice(0, 200)}`);
    process.exit(1);
  }
  console.log(`healthcheck: ${url} ${response.status} ${body.slice(0, 200)}`);
} catch (error) {
  console.error(`healthcheck: ${url}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
