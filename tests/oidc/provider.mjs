// A real OpenID provider for Clearance's single sign-on tests (tests/test_ui_oidc.py):
// panva's certified oidc-provider, configured here and nothing else stubbed.
//
//   node tests/oidc/provider.mjs PORT CONFIG.json
//
// CONFIG.json: {"clients": [oidc-provider client metadata…], "users": "USERS.json"}.
// USERS.json: {"<login>": {"preferred_username"?, "email"?, "groups": [...]}, …}; it is read
// again at every account lookup, so a test changes a user's groups at the provider mid-test
// by rewriting the file. The provider prints "ready <issuer>" once it listens.
//
// Sign-in uses oidc-provider's development interactions (any password is accepted for a
// login present in USERS.json); consent is granted for the registered client, as a lab's
// own provider does for its first-party applications. PKCE is required of every client.
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const [port, configPath] = process.argv.slice(2);
if (!port || !configPath) {
  console.error('usage: node provider.mjs PORT CONFIG.json');
  process.exit(2);
}
const { clients, users: usersPath } = JSON.parse(readFileSync(configPath, 'utf8'));
const issuer = `http://127.0.0.1:${port}`;

function readUsers() {
  return JSON.parse(readFileSync(usersPath, 'utf8'));
}

async function findAccount(ctx, id) {
  if (!Object.hasOwn(readUsers(), id)) return undefined;
  return {
    accountId: id,
    // Read at every token and userinfo answer: the groups are those of the file right now.
    async claims() {
      const user = readUsers()[id] ?? {};
      const claims = { sub: id, groups: user.groups ?? [], name: id };
      if (user.preferred_username !== undefined) claims.preferred_username = user.preferred_username;
      if (user.email !== undefined) {
        claims.email = user.email;
        claims.email_verified = true;
      }
      return claims;
    },
  };
}

// First-party client: grant what it asks for instead of showing a consent page.
async function loadExistingGrant(ctx) {
  const grantId = ctx.oidc.result?.consent?.grantId
    || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
  if (grantId) {
    const grant = await ctx.oidc.provider.Grant.find(grantId);
    if (grant) return grant;
  }
  const grant = new ctx.oidc.provider.Grant({
    clientId: ctx.oidc.client.clientId,
    accountId: ctx.oidc.session.accountId,
  });
  grant.addOIDCScope('openid email profile');
  grant.addOIDCClaims(['preferred_username', 'email', 'email_verified', 'groups', 'name']);
  await grant.save();
  return grant;
}

const provider = new Provider(issuer, {
  clients,
  findAccount,
  loadExistingGrant,
  // The groups claim comes with the profile scope, which every login asks for (as Okta,
  // Entra ID and Keycloak can be configured to send it).
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'name', 'groups'],
  },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  cookies: { keys: ['clearance-test-provider-cookie-key'] },
});

provider.on('server_error', (ctx, err) => console.error('server_error', err));

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
