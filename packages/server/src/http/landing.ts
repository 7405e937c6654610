/** Served at `/` until the web app is built into the server. */
export function landingPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Parley</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>Parley is running</h1>
<p>The HTTP API is under <code>/v1</code> and the WebSocket endpoint is <code>/v1/ws</code>; see docs/protocol.md.</p>
<p>Try it from a terminal: <code>npm run parley -- chat</code>. Health: <a href="/healthz">/healthz</a>, metrics: <a href="/metrics">/metrics</a>.</p>
</body></html>`;
}
