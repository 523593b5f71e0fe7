// RFC 7591 dynamic client registration and RFC 7592 management: oidc-provider's registration
// features, off unless CLIENT_REGISTRATION=on. (Being built: see the registration work.)
import type { Configuration } from 'oidc-provider';
import type { Config } from '../config/index.ts';

type Features = NonNullable<Configuration['features']>;

export function registrationFeatures(config: Config): Pick<Features, 'registration' | 'registrationManagement'> {
  void config;
  return { registration: { enabled: false }, registrationManagement: { enabled: false } };
}
