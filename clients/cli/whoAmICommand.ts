import type { Command } from 'commander';
import type { WhoAmIResponse } from '../../proto/gen/concord/v1/admin';
import { addClientOptions, withClient, type ClientCliOptions, type Io } from './clientOptions';
import { printable } from './printable';

// `concord whoami`: who a node takes this client for under its access policy (--authz-file):
// the user its certificate names, the roles the policy gives it, and what they grant. The first
// thing to run when a call is refused with PERMISSION_DENIED.

export function registerWhoAmICommand(program: Command, io: Io): void {
  addClientOptions(program.command('whoami').description('the user a node takes this client for (its certificate\'s common name), its roles and permissions under the node\'s access policy'))
    .action(async (options: ClientCliOptions) => {
      const me = await withClient(options, (client) => client.whoAmI());
      if (options.json) io.out(JSON.stringify(printable(me), null, 2));
      else for (const line of formatWhoAmI(me)) io.out(line);
    });
}

export function formatWhoAmI(me: WhoAmIResponse): string[] {
  const name = me.user === '' ? '(no client certificate name)' : me.user;
  if (!me.authorization) return [`user: ${name}`, 'this node checks no access policy: every caller may do everything'];
  const lines = [`user: ${name}${me.forwardedBy === '' ? '' : ` (forwarded by ${me.forwardedBy})`}`];
  if (!me.known) return [...lines, 'not a user of the node\'s access policy: every call but status and whoami is refused'];
  lines.push(`roles: ${me.roles.length === 0 ? 'none' : me.roles.join(', ')}`);
  if (me.permissions.length === 0) lines.push('permissions: none');
  else lines.push('permissions:', ...me.permissions.map((p) => `  ${p}`));
  return lines;
}
