/**
 * Every client command's name, arguments, options and help: the one source
 * the parser, `zoogate help`, `zoogate COMMAND --help` and the server's usage
 * text (api/main.ts) are built from. No runtime imports, so the server's
 * help can show it without loading the client.
 */
import type { OptionSpec } from './args.ts';

export interface CommandSpec {
  readonly name: string;
  /** Other names (zkCli's, where they differ). */
  readonly aliases?: readonly string[];
  readonly group: 'znodes' | 'watches' | 'cluster' | 'recipes' | 'other';
  /** What follows the name in the usage line. */
  readonly args: string;
  readonly summary: string;
  /** Paragraphs for `--help`. */
  readonly details: string;
  readonly options: readonly OptionSpec[];
  readonly examples: readonly string[];
  /** Takes `-- COMMAND...`: lock must have one, elect may. */
  readonly runsCommand?: 'required' | 'optional';
  /** Its --timeout bounds a wait (for a lock, for an item), not each request. */
  readonly timeoutIsWait?: boolean;
}

export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { name: 'server', value: 'URL[,URL…]', help: 'the servers, tried in this order (default: $ZOOGATE_SERVER, else http://127.0.0.1:8181); host:port works too' },
  { name: 'json', help: "machine output: the API's JSON on stdout (one value per line), errors as a JSON object on stderr" },
  { name: 'user', value: 'USER', help: 'authenticate as this digest user (HTTP Basic; default $ZOOGATE_USER)' },
  { name: 'password', value: 'PASSWORD', help: 'the password (default $ZOOGATE_PASSWORD)' },
  { name: 'timeout', value: 'S', help: 'how long to keep trying to reach the ensemble, in seconds (default 10; 500ms, 1m)' },
  { name: 'help', short: 'h', help: 'show help' },
];

const SESSION_TIMEOUT: OptionSpec = {
  name: 'session-timeout', value: 'S',
  help: 'session timeout in seconds (default 10): how long the node outlives this process if it is killed (the server clamps it)',
};

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'get', group: 'znodes', args: 'PATH', summary: 'print the data of a znode',
    details: `Prints the data of PATH exactly as stored (raw bytes; a newline is added only on a terminal, when the data does not end with one).
With --stat, the Stat follows in zkCli's layout. With --watch, it then waits for the next change of the node and prints the new data (the change is named on stderr); if the node is deleted instead, it exits 2.
--json prints the API's {"path","data","encoding","stat"} (encoding "utf8", or "base64" for data that is not UTF-8); with --watch, then the event and the new value, one JSON value per line.`,
    options: [
      { name: 'stat', short: 's', help: 'also print the Stat' },
      { name: 'watch', short: 'w', help: 'wait for the next change and print it' },
    ],
    examples: ['zoogate get /app/config', 'zoogate get /app/config --stat', 'zoogate get /app/config --watch', 'zoogate get /app/config > config.json'],
  },
  {
    name: 'set', group: 'znodes', args: 'PATH DATA|-', summary: 'set the data of a znode',
    details: `Replaces the data of PATH with DATA (as UTF-8), or with stdin's bytes when DATA is "-". With --version, only if the node is still at that data version (compare-and-set; exit 4 otherwise). Prints nothing (--stat: the new Stat).
--json prints {"path","stat"}.`,
    options: [
      { name: 'version', short: 'v', value: 'N', help: 'expected data version (-1: any)' },
      { name: 'stat', short: 's', help: 'print the new Stat' },
    ],
    examples: ['zoogate set /app/config \'{"port":80}\'', 'zoogate set /app/config - < config.json', 'zoogate set /app/config v2 --version 1'],
  },
  {
    name: 'create', group: 'znodes', args: 'PATH [DATA|-]', summary: 'create a znode and print its path',
    details: `Creates PATH with DATA (default empty; "-" reads stdin) and prints the path created (for sequential modes, PATH is the prefix and the counter is appended).
Modes: persistent (default), ephemeral, persistent_sequential, ephemeral_sequential, container, ttl (needs --ttl), or the API's persistent_with_ttl / persistent_sequential_with_ttl. zkCli's flags work too: -e ephemeral, -s sequential, -c container, -t MS ttl.
An ephemeral node lives as long as its session, which is this process: create prints the path and then holds the node until Ctrl-C (or SIGTERM), when it removes it and exits 0. If the process is killed, the node goes when the session times out (--session-timeout).
--acl takes ZooKeeper's scheme:id:perms[,…] (world:anyone:r,digest:alice:HASH:cdrwa, auth::cdrwa; see "zoogate digest").
--json prints {"path","stat"}.`,
    options: [
      { name: 'mode', short: 'm', value: 'MODE', help: 'persistent|ephemeral|persistent_sequential|ephemeral_sequential|container|ttl' },
      { name: 'ephemeral', short: 'e', help: 'ephemeral (held until Ctrl-C)' },
      { name: 'sequential', short: 's', help: 'sequential: append a 10-digit counter' },
      { name: 'container', short: 'c', help: 'container (removed once its last child goes)' },
      { name: 'ttl', short: 't', value: 'MS', help: 'TTL node: removed when childless and unmodified for MS milliseconds' },
      { name: 'parents', short: 'p', help: 'create missing ancestors (persistent, in the same transaction)' },
      { name: 'acl', value: 'ACL', repeat: true, help: 'the ACL (default world:anyone:cdrwa)' },
      SESSION_TIMEOUT,
    ],
    examples: [
      'zoogate create /app/config \'{"port":80}\' --parents',
      'zoogate create /jobs/job- payload --mode persistent_sequential   # prints /jobs/job-0000000000',
      'zoogate create /members/me --mode ephemeral                      # held until Ctrl-C',
      'zoogate create /lease "" --mode ttl --ttl 60000',
      'zoogate create /private x --acl "world:anyone:r,digest:$(zoogate digest alice:secret):cdrwa"',
    ],
  },
  {
    name: 'ls', group: 'znodes', args: '[PATH]', summary: 'list the children of a znode',
    details: `Prints the children's names of PATH (default /), sorted, one per line. With -R, every path under PATH (PATH first, depth first, sorted), one per line, as zkCli's ls -R. With --stat, PATH's Stat follows.
--json prints the API's {"path","children","stat"}; with -R, {"path","paths":[…]}.`,
    options: [
      { name: 'stat', short: 's', help: "also print the node's Stat" },
      { name: 'recursive', short: 'R', help: 'every path under PATH' },
    ],
    examples: ['zoogate ls /', 'zoogate ls /services -R', 'zoogate ls /jobs --json | jq -r ".children[]"'],
  },
  {
    name: 'stat', group: 'znodes', args: 'PATH', summary: "print a znode's Stat (exit 2 if it does not exist)",
    details: `Prints the Stat of PATH in zkCli's layout (cZxid = 0x…, ctime = …). A missing node exits 2 with NoNode, so "zoogate stat /x >/dev/null" works like test -e. Needs no permission on the node (ZooKeeper's exists).
--json prints the Stat object.`,
    options: [],
    examples: ['zoogate stat /app', 'zoogate stat /app/lock >/dev/null 2>&1 && echo taken'],
  },
  {
    name: 'rm', aliases: ['delete'], group: 'znodes', args: 'PATH', summary: 'delete a znode (-R: the subtree)',
    details: `Deletes PATH; with --version only at that data version (exit 4 otherwise); with -R the whole subtree, in one transaction. A node with children without -R is NotEmpty (exit 7). Prints nothing (--json too: the API answers 204).`,
    options: [
      { name: 'version', short: 'v', value: 'N', help: 'expected data version (-1: any)' },
      { name: 'recursive', short: 'R', help: 'delete the subtree (zkCli deleteall), atomically' },
    ],
    examples: ['zoogate rm /app/config', 'zoogate rm /app/config --version 3', 'zoogate rm /app -R'],
  },
  {
    name: 'sync', group: 'znodes', args: '[PATH]', summary: 'make the server catch up with the leader',
    details: `ZooKeeper's sync: the server answering catches up with the leader, so reads after it see every write committed before it. Prints the zxid it reached.
--json prints the API's {"zxid"}.`,
    options: [],
    examples: ['zoogate sync /app'],
  },
  {
    name: 'getacl', aliases: ['getAcl'], group: 'znodes', args: 'PATH', summary: "print a znode's ACL",
    details: `Prints the ACL of PATH, one scheme:id:perms entry per line (the form --acl and setacl take). With --stat, the Stat follows.
--json prints the API's {"path","acl","stat"}.`,
    options: [{ name: 'stat', short: 's', help: 'also print the Stat' }],
    examples: ['zoogate getacl /private'],
  },
  {
    name: 'setacl', aliases: ['setAcl'], group: 'znodes', args: 'PATH ACL', summary: "set a znode's ACL",
    details: `Replaces the ACL of PATH. ACL is scheme:id:perms[,…] (perms a subset of cdrwa) or the API's JSON list [{"scheme","id","perms"}]. With --aversion, only if the ACL is still at that version (exit 4 otherwise). Prints the ACL now in place.
--json prints the API's {"path","acl","stat"}.`,
    options: [{ name: 'aversion', short: 'v', value: 'N', help: 'expected ACL version (-1: any)' }],
    examples: ['zoogate setacl /private "world:anyone:r,digest:$(zoogate digest alice:secret):cdrwa" --user alice --password secret'],
  },
  {
    name: 'watch', group: 'watches', args: 'PATH', summary: 'stream the changes of a znode (-R: of a subtree)',
    details: `Prints one line per change of PATH (created, data changed, children changed, deleted), or with -R of any node at or under PATH, until Ctrl-C (then exit 0) or --count events. A persistent watch over a session: it moves to another server if its server dies, and changes made meanwhile are still printed. PATH need not exist yet.
Human lines: EVENT PATH ZXID (NodeDataChanged /app 0x100000004). --json: the API's event objects, one per line.`,
    options: [
      { name: 'recursive', short: 'R', help: 'every node at or under PATH (no NodeChildrenChanged, as ZooKeeper)' },
      { name: 'count', short: 'n', value: 'N', help: 'exit 0 after N events' },
      SESSION_TIMEOUT,
    ],
    examples: ['zoogate watch /app', 'zoogate watch /services -R --json | jq -c .', 'zoogate watch /app/flag -n 1 && deploy'],
  },
  {
    name: 'tree', group: 'znodes', args: '[PATH]', summary: 'print a subtree as an indented tree',
    details: `Prints PATH (default /) and everything under it, indented like tree(1), then a count. Reading a large tree shows progress on stderr when stderr is a terminal. Nodes deleted while it reads are left out.
--json prints {"path","children":[{"path","children":[…]},…]}.`,
    options: [{ name: 'depth', short: 'L', value: 'N', help: 'descend at most N levels' }],
    examples: ['zoogate tree /services', 'zoogate tree / -L 2'],
  },
  {
    name: 'members', group: 'cluster', args: '', summary: 'the ensemble: members, roles and zxids (also: zoogate cluster status)',
    details: `Shows the first server that answers: its id and state, the leader, the epoch, and a table of the members with their role and last zxid as that server knows them. ("zoogate cluster" alone starts a local ensemble, so the table is "members" or "cluster status".)
--json prints the API's GET /cluster object.`,
    options: [],
    examples: ['zoogate members --server http://10.0.0.1:8181', 'zoogate cluster status'],
  },
  {
    name: 'multi', group: 'znodes', args: '[FILE|-]', summary: 'apply operations atomically (JSON from a file or stdin)',
    details: `Reads operations as JSON from FILE or stdin ("-" or nothing): {"ops":[…]} or just the list, each op as the API's multi op ({"op":"create","path","data"?,"mode"?,"ttl"?}, {"op":"set","path","data","version"?}, {"op":"delete","path","version"?}, {"op":"check","path","version"}). All apply at one zxid or none does. Prints one line per result (create PATH, set PATH version N, delete PATH, check PATH).
On failure nothing is applied; the exit code is the failing op's, and --json prints the API's {"error","failedOp","results"} on stderr.
--json prints the API's {"zxid","results"}.`,
    options: [],
    examples: [
      'echo \'[{"op":"check","path":"/app","version":2},{"op":"set","path":"/app","data":"v3","version":2}]\' | zoogate multi',
      'zoogate multi ops.json',
    ],
  },
  {
    name: 'lock', group: 'recipes', args: 'PATH', runsCommand: 'required', timeoutIsWait: true,
    summary: 'run a command while holding a fair lock',
    details: `Queues for the lock at PATH (ZooKeeper's lock recipe: an ephemeral sequential node per contender, holding HOSTNAME:PID, served in arrival order), runs COMMAND once it holds it, releases it when COMMAND exits, and exits with COMMAND's exit code (128+N if a signal N ended it; 127 if it cannot be found, 126 if it cannot be run).
While it waits, stderr shows "waiting for lock PATH (N ahead)", again each time N goes down, then "holding lock PATH (NODE, fencing token T); running COMMAND". --timeout S gives up after S seconds (0: take the lock only if it is free now), exit 6 with OperationTimeout; without it, it waits as long as it takes. Ctrl-C or SIGTERM while waiting leaves the queue (exit 130/143); while COMMAND runs, the signal is passed on to it.
COMMAND runs with ZOOGATE_LOCK_NODE (the lock node) and ZOOGATE_FENCING_TOKEN (its czxid, larger for every later holder: pass it to what the lock protects so it can refuse a stale holder). If the session expires while COMMAND runs (this process was cut off or paused for longer than --session-timeout), the lock is lost and the next contender gets it: COMMAND gets SIGTERM and zoogate exits 6.`,
    options: [
      { name: 'timeout', value: 'S', help: 'give up waiting for the lock after S seconds (0: do not wait); exit 6' },
      SESSION_TIMEOUT,
    ],
    examples: [
      'zoogate lock /locks/deploy -- ./deploy.sh prod',
      'zoogate lock /locks/backup --timeout 30 -- pg_dump -f backup.sql app',
      'zoogate lock /locks/cron --timeout 0 -- ./nightly.sh   # skip if another run holds it',
    ],
  },
  {
    name: 'elect', group: 'recipes', args: 'PATH', runsCommand: 'optional', summary: 'campaign for leadership; run a command while leader',
    details: `Joins the election at PATH (Curator's LeaderLatch: the lowest ephemeral sequential node leads; each candidate's node holds its id). Prints "leader", or "follower: leader is ID", and again whenever that changes. A leader that is killed leads until its session expires (--session-timeout); then the next candidate takes over.
Without COMMAND it campaigns until Ctrl-C or SIGTERM (exit 0; its candidacy goes with it); if its session expires it exits 6. With COMMAND, it waits to lead (Ctrl-C meanwhile: exit 130), runs COMMAND, steps down when COMMAND exits and exits with its code; the status lines then go to stderr (stdout is COMMAND's). If leadership is lost while COMMAND runs, COMMAND gets SIGTERM and zoogate exits 6 (the session expired) or 2 (someone deleted this candidate's node).
COMMAND runs with ZOOGATE_LEADER_NODE and ZOOGATE_LEADER_ID. --json prints {"path","id","role","leader"} lines instead.`,
    options: [
      { name: 'id', value: 'NAME', help: "this candidate's id, shown to the others (default: HOSTNAME-PID)" },
      SESSION_TIMEOUT,
    ],
    examples: ['zoogate elect /election/scheduler --id "$(hostname)"', 'zoogate elect /election/scheduler -- ./run-scheduler'],
  },
  {
    name: 'queue', group: 'recipes', args: 'put|take|peek|size PATH [DATA|-]', timeoutIsWait: true, summary: 'a distributed FIFO queue',
    details: `put PATH DATA: appends an item (DATA, or stdin with -) and prints its node. take PATH: removes the head item and prints its data raw (as get); if the queue is empty it says on stderr that it waits, and waits for an item, at most --timeout S (0: do not wait), then exits 2 (NoNode); Ctrl-C meanwhile exits 130. Each item is taken by exactly one consumer, however many compete. peek PATH: prints the head item without taking it (exit 2 if empty). size PATH: the number of items.
--json: put {"path"}, take and peek {"path","data","encoding"}, size {"path","size"}.`,
    options: [{ name: 'timeout', value: 'S', help: 'take: wait at most S seconds for an item (0: do not wait)' }],
    examples: ['zoogate queue put /queues/jobs \'{"id":42}\'', 'zoogate queue take /queues/jobs --timeout 30', 'zoogate queue size /queues/jobs'],
  },
  {
    name: 'services', group: 'recipes', args: 'register NAME HOST:PORT | list [NAME] | pick NAME', summary: 'service discovery: register, list, pick instances',
    details: `register NAME HOST:PORT: registers an instance of service NAME (an ephemeral node BASE/NAME/ID holding {"name","id","address","port","metadata","registeredAt"}), prints its node and holds it until Ctrl-C (then removes it, exit 0); if the session expires it registers again in a new one.
list: the services; list NAME: a table of its instances. pick NAME: prints HOST:PORT of one instance chosen by --strategy (round-robin from a random start, random, or least-loaded: the lowest number in metadata --field, default load); exit 2 if there is none. --count N picks N times.
--id, --meta and --session-timeout are register's; --strategy, --field and --count pick's.
--json: register and pick print the instance object, list NAME the list of instances, list {"path","services"}.`,
    options: [
      { name: 'id', value: 'ID', help: 'register: the instance id (default: a UUID)' },
      { name: 'meta', value: 'KEY=VALUE', repeat: true, help: 'register: metadata (VALUE as JSON when it parses: load=0.3 is a number)' },
      { name: 'strategy', value: 'S', help: 'pick: round-robin (default), random or least-loaded' },
      { name: 'field', value: 'F', help: 'pick --strategy least-loaded: the metadata field (default load)' },
      { name: 'count', short: 'n', value: 'N', help: 'pick: N instances, one per line' },
      { name: 'base', value: 'PATH', help: 'where services live (default /services)' },
      { ...SESSION_TIMEOUT, help: `register: ${SESSION_TIMEOUT.help}` },
    ],
    examples: [
      'zoogate services register web 10.0.0.5:8080 --meta load=0.2 --meta zone=eu-1',
      'zoogate services list web',
      'curl "http://$(zoogate services pick web --strategy least-loaded)/health"',
    ],
  },
  {
    name: 'digest', group: 'other', args: 'USER:PASSWORD', summary: "print ZooKeeper's digest id for an ACL (local)",
    details: `Prints USER:base64(sha1(USER:PASSWORD)), the id of a digest ACL entry (ZooKeeper's DigestAuthenticationProvider), without contacting a server.
--json prints {"user","id"}.`,
    options: [],
    examples: ['zoogate digest alice:secret', 'zoogate create /x v --acl "digest:$(zoogate digest alice:secret):cdrwa"'],
  },
  {
    name: 'help', group: 'other', args: '[COMMAND]', summary: 'this help, or a command\'s',
    details: 'Prints the list of commands, or the help of COMMAND (as zoogate COMMAND --help).',
    options: [],
    examples: ['zoogate help', 'zoogate help lock'],
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}

const GROUPS: Record<CommandSpec['group'], string> = {
  znodes: 'znodes',
  watches: 'watches',
  cluster: 'ensemble',
  recipes: 'recipes',
  other: 'other',
};

/** The client commands' section of `zoogate help` (api/main.ts prints it under the server commands). */
export function clientCommandsHelp(): string {
  const lines: string[] = [];
  for (const g of Object.keys(GROUPS) as CommandSpec['group'][]) {
    const cs = COMMANDS.filter((c) => c.group === g);
    if (cs.length === 0) continue;
    lines.push(`client commands: ${GROUPS[g]}`);
    for (const c of cs) lines.push(`  ${c.name.padEnd(10)} ${c.summary}`);
    lines.push('');
  }
  lines.push('client options (every client command):');
  lines.push(...optionLines(GLOBAL_OPTIONS));
  lines.push('', "'zoogate COMMAND --help' for a command's options and examples; exit codes: docs/cli.md");
  return lines.join('\n') + '\n';
}

function optionLines(opts: readonly OptionSpec[]): string[] {
  const label = (o: OptionSpec) => `${o.short ? `-${o.short}, ` : '    '}--${o.name}${o.value ? ` ${o.value}` : ''}`;
  const width = Math.max(0, ...opts.map((o) => label(o).length));
  return opts.map((o) => `  ${label(o).padEnd(width)}  ${o.help}`);
}

/** `zoogate COMMAND --help`. */
export function commandHelp(c: CommandSpec): string {
  const usageOpts = c.options.map((o) => `[${o.short ? `-${o.short}|` : ''}--${o.name}${o.value ? ` ${o.value}` : ''}]`).join(' ');
  const out = [`usage: zoogate ${c.name}${c.args ? ` ${c.args}` : ''}${usageOpts ? ` ${usageOpts}` : ''}${c.runsCommand === 'required' ? ' -- COMMAND...' : c.runsCommand === 'optional' ? ' [-- COMMAND...]' : ''}`, ''];
  if (c.aliases?.length) out.push(`also: ${c.aliases.map((a) => `zoogate ${a}`).join(', ')}`, '');
  out.push(...c.details.split('\n'), '');
  if (c.options.length > 0) out.push('options:', ...optionLines(c.options), '');
  // a command's own --timeout (how long lock and queue take wait) stands in for the global one
  out.push('client options:', ...optionLines(GLOBAL_OPTIONS.filter((g) => !c.options.some((o) => o.name === g.name))), '');
  out.push('examples:', ...c.examples.map((e) => `  ${e}`), '');
  out.push('exit codes: 0 ok, 1 usage, 2 NoNode, 3 NodeExists, 4 BadVersion, 5 NoAuth/AuthFailed, 6 unreachable/no quorum/timeout, 7 other (docs/cli.md)');
  return out.join('\n') + '\n';
}
