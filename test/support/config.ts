// What loadConfig refuses, as { variable: message }, for the configuration tests.
import { ConfigError, loadConfig } from '../../src/config/index.ts';

export function problemsOf(env: Record<string, string>): Record<string, string> {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return Object.fromEntries((error as ConfigError).problems.map((p) => [p.variable, p.message]));
  }
  throw new Error('expected a ConfigError');
}
