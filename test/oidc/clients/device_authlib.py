#!/usr/bin/env python3
"""A device that knows nothing of Portcullis: the device authorization grant (RFC 8628) with Authlib.

Usage: device_authlib.py ISSUER CLIENT_ID SCOPE

Reads the endpoints from the issuer's discovery document, asks for a device code, and prints the
device authorization response as one JSON line (what a TV would show: user_code, verification_uri).
Then polls the token endpoint with Authlib's OAuth2Session.fetch_token as RFC 8628 section 3.5 says
(wait `interval`, keep waiting on authorization_pending, five seconds more on slow_down) and
prints the token response, or {"error": ...} for the error polling ended with, as one JSON line.
Run by test/oidc/deviceFlow.test.ts with Debian's python3 and python3-authlib.
"""
import json
import sys
import time

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'


def main(issuer, client_id, scope):
    # A public client: it authenticates with its client_id alone (token_endpoint_auth_method none).
    session = OAuth2Session(client_id, token_endpoint_auth_method='none', default_timeout=10)
    metadata = session.get(f'{issuer}/.well-known/openid-configuration', withhold_token=True).json()
    response = session.post(
        metadata['device_authorization_endpoint'],
        data={'client_id': client_id, 'scope': scope},
        withhold_token=True,
    )
    response.raise_for_status()
    authorization = response.json()
    print(json.dumps(authorization), flush=True)

    interval = authorization.get('interval', 5)
    deadline = time.monotonic() + authorization['expires_in']
    while time.monotonic() < deadline:
        time.sleep(interval)
        try:
            token = session.fetch_token(
                metadata['token_endpoint'],
                grant_type=DEVICE_CODE_GRANT,
                device_code=authorization['device_code'],
            )
        except OAuthError as error:
            if error.error == 'authorization_pending':
                continue
            if error.error == 'slow_down':
                interval += 5
                continue
            print(json.dumps({'error': error.error}), flush=True)
            return 1
        print(json.dumps(dict(token)), flush=True)
        return 0
    print(json.dumps({'error': 'gave_up'}), flush=True)
    return 1


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:4]))
