// The reference side of webhooksig's TestReferenceImplementation. It reads
// {"verify": [...], "sign": [...]} as JSON on stdin and writes what the
// Standard Webhooks reference library answers as JSON on stdout:
//   verify: {name, secret, id, timestamp, signature, body} -> {name, ok, error}
//   sign:   {name, secret, id, timestamp (unix seconds), body} -> {name, signature}
import standardwebhooks from "standardwebhooks";

const { Webhook } = standardwebhooks;

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const req = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const out = { verify: [], sign: [] };
for (const c of req.verify) {
  try {
    new Webhook(c.secret).verify(c.body, {
      "webhook-id": c.id,
      "webhook-timestamp": c.timestamp,
      "webhook-signature": c.signature,
    });
    out.verify.push({ name: c.name, ok: true });
  } catch (e) {
    out.verify.push({ name: c.name, ok: false, error: String(e?.message ?? e) });
  }
}
for (const c of req.sign) {
  const signature = new Webhook(c.secret).sign(c.id, new Date(c.timestamp * 1000), c.body);
  out.sign.push({ name: c.name, signature });
}
process.stdout.write(JSON.stringify(out));
