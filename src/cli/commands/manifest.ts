// `portcullis export` and `portcullis apply`: configuration as code (src/manifest/). Export writes
// the API resources, roles, organization roles, connections and clients (never a secret) as YAML, or JSON with --json; apply reads such a
// file, checks all of it, prints the plan (what it creates, changes field by field, deletes with
// --prune, and leaves alone), and makes the changes unless --dry-run.
import fs from 'node:fs';
import { Option, type Command } from 'commander';
import { CLI_ACTOR } from '../../audit/index.ts';
import { InputError } from '../../errors/index.ts';
import type { Change, FieldChange, Plan } from '../../manifest/index.ts';
import { ADMIN_SCOPES, adminAudience } from '../../resources/index.ts';
import type { CliIo } from '../io.ts';
import { printing } from '../output.ts';
import { withServices } from '../services.ts';

const MANIFEST_FLAGS = { file: '--file' } as const;

/**
 * The manifest room (and the YAML parser with it), loaded when one of these commands runs: every
 * other command shares this module graph and would pay for it at each start.
 */
const manifestRoom = () => import('../../manifest/index.ts');

type ApplyOptions = { file: string; dryRun?: boolean; prune?: boolean; json?: boolean };

/** What apply prints (--json: as is). */
interface Applied {
  dry_run: boolean;
  /** Whether any change was made. */
  applied: boolean;
  summary: Plan['summary'];
  changes: Change[];
}

export function addManifestCommands(program: Command, io: CliIo): void {
  const printed = printing(io, MANIFEST_FLAGS);

  printed(
    program
      .command('export')
      .description(
        'print the configuration (API resources, roles, organization roles, connections and clients; never a secret) as YAML, or as JSON with --json',
      )
      .addOption(new Option('--yaml', 'print YAML (the default)').conflicts('json')),
    {
      run: async () => {
        const { exportManifest, manifestYaml } = await manifestRoom();
        const document = await withServices(io, (services, config) =>
          exportManifest({ ...services, connections: services.federation.connections }, adminAudience(config.issuer)),
        );
        // Rendered here, where the room is loaded; `human` only prints it.
        return { document, yaml: manifestYaml(document).trimEnd() };
      },
      json: ({ document }) => document,
      human: ({ yaml }) => yaml,
    },
  );

  printed(
    program
      .command('apply')
      .description('make the server match a configuration file: print the plan, then make its changes')
      .requiredOption('-f, --file <path>', 'the file, YAML or JSON ("-": standard input)')
      .option('--dry-run', 'print the plan and change nothing')
      .option(
        '--prune',
        'also delete the clients, connections, roles, organization roles and API resources the file does not name (by default they are left alone)',
      ),
    {
      run: async (options: ApplyOptions): Promise<Applied> => {
        // The file is read and parsed before the database is opened: a bad file changes nothing anywhere.
        const text = options.file === '-' ? await io.readStdin() : readFile(options.file);
        const { parseSource, planManifest } = await manifestRoom();
        const source = parseSource(options.file, text, process.cwd());
        return withServices(io, async (services, config) => {
          const plan = await planManifest(
            source,
            { ...services, connections: services.federation.connections },
            {
              prune: options.prune === true,
              env: io.env,
              own: { audience: adminAudience(config.issuer), scopes: Object.values(ADMIN_SCOPES) },
            },
          );
          const pending = plan.summary.create + plan.summary.update + plan.summary.delete;
          if (!options.dryRun && pending > 0) {
            let made = 0;
            await plan
              .apply(CLI_ACTOR, () => (made += 1))
              .catch((error: unknown) => {
                if (!options.json) io.stderr(`portcullis: ${made} of ${pending} changes were made before this one failed; ${failedNote}\n`);
                throw error;
              });
          }
          return {
            dry_run: options.dryRun === true,
            applied: !options.dryRun && pending > 0,
            summary: plan.summary,
            changes: plan.changes,
          };
        });
      },
      human: renderApplied,
    },
  );
}

const failedNote =
  'the rest were not. Each change made is complete (with its audit event); fix the cause and apply the file again to make the rest.';

function readFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError('file', `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
}

const SIGNS: Record<Change['action'], string> = { create: '+', update: '~', delete: '-', unchanged: '=', not_in_file: ' ' };

/** The plan as people read it, Terraform's way: + create, ~ update (old → new), - delete. */
function renderApplied({ dry_run: dryRun, summary, changes }: Applied): string {
  const lines: string[] = [];
  for (const change of changes) {
    if (change.action === 'unchanged') continue;
    if (change.action === 'not_in_file') {
      lines.push(`  ${change.kind} ${change.id}: not in the file, left alone (--prune deletes it)`);
      continue;
    }
    lines.push(`${SIGNS[change.action]} ${change.kind} ${change.id}`);
    for (const field of change.fields ?? []) lines.push(`    ${renderField(field)}`);
  }
  const pending = summary.create + summary.update + summary.delete;
  const rest = [`${summary.unchanged} unchanged`, ...(summary.not_in_file ? [`${summary.not_in_file} not in the file`] : [])].join(', ');
  if (pending === 0) return [...lines, `No changes: the server matches the file (${rest}).`].join('\n');
  lines.push(`Plan: ${summary.create} to create, ${summary.update} to update, ${summary.delete} to delete; ${rest}.`);
  lines.push(dryRun ? 'Dry run: nothing was changed.' : 'Applied.');
  return lines.join('\n');
}

function renderField(change: FieldChange): string {
  // A secret's "value" is where it comes from, or (set): never the secret.
  const show = (value: unknown) => (change.field === 'client_secret' ? String(value) : value === null ? '(none)' : JSON.stringify(value));
  return 'from' in change ? `${change.field}: ${show(change.from)} → ${show(change.to)}` : `${change.field}: ${show(change.to)}`;
}
