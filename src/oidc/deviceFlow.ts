// RFC 8628, the device authorization grant: oidc-provider's deviceFlow feature, with Portcullis's
// pages (the user-code form, its confirmation, the "return to your device" page) and a limit on
// wrong user codes per source. (Being built: see the device-flow work.)
import type { Configuration } from 'oidc-provider';

type DeviceFlowFeature = NonNullable<NonNullable<Configuration['features']>['deviceFlow']>;

export function deviceFlowFeature(): DeviceFlowFeature {
  return { enabled: true, charset: 'base-20', mask: '****-****' };
}
