// The one password rule (NIST SP 800-63B section 3.1.1.2): length in characters as people count
// them, the common-password list, and the account's own address.
import { MAX_PASSWORD_LENGTH, passwordProblem } from '../../src/users/index.ts';

test.each([
  ['short', 'too_short'],
  ['1234567', 'too_short'],
  ['x'.repeat(MAX_PASSWORD_LENGTH + 1), 'too_long'],
  ['password', 'common'],
  ['Password', 'common'],
  ['12345678', 'common'],
  ['iloveyou', 'common'],
  ['qwertyuiop', 'common'],
  ['adalovelace@example.com', 'email'],
  ['ADALOVELACE@example.com', 'email'],
  ['adalovelace', 'email'],
])('%s is refused as %s for adalovelace@example.com', (password, problem) => {
  expect(passwordProblem(password, 'adalovelace@example.com')).toBe(problem);
});

test.each(['correct horse battery staple', 'a very long passphrase', 'Tr0ub4dor&3x!', '🔑🔑🔑🔑🔑🔑🔑🔑', 'x'.repeat(MAX_PASSWORD_LENGTH)])(
  '%s may be used',
  (password) => {
    expect(passwordProblem(password, 'ada@example.com')).toBeUndefined();
  },
);

test('length counts characters, not UTF-16 units: four emoji are four characters', () => {
  expect(passwordProblem('🔑🔑🔑🔑', 'ada@example.com')).toBe('too_short');
});
