import { PROVIDER_SPECS } from '../providers/table.js';

/**
 * The keys a command line may carry: the value of `--api-key` (as `--api-key=K` or `--api-key K`)
 * and every provider's key variable that is set. Whatever the command prints about its arguments
 * (a usage error echoing a mistyped value, a failure) has them replaced, whatever their shape.
 */
export function commandSecrets(argv: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const secrets = new Set<string>();
  for (const [i, arg] of argv.entries()) {
    if (arg.startsWith('--api-key=')) secrets.add(arg.slice('--api-key='.length));
    else if (arg === '--api-key' && argv[i + 1] !== undefined) secrets.add(argv[i + 1] as string);
  }
  for (const name of new Set(PROVIDER_SPECS.flatMap((spec) => spec.apiKeyEnv))) {
    const value = env[name];
    if (value !== undefined) secrets.add(value);
  }
  // Too short to be a key, and replacing it would garble the message.
  return [...secrets].filter((secret) => secret.length >= 8);
}
