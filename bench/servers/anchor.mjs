// The hello-world handler on Bun's or Deno's own server, as an outside
// anchor: `bun anchor.mjs <port>` or `deno run --allow-net anchor.mjs <port>`.
// Prints "ready" once listening.

const port = Number(globalThis.Bun ? process.argv[2] : Deno.args[0]);
const hello = () => new Response('hello world', { headers: { 'content-type': 'text/plain' } });

if (globalThis.Bun) {
  Bun.serve({ port, hostname: '127.0.0.1', fetch: hello });
  console.log('ready');
} else {
  Deno.serve({ port, hostname: '127.0.0.1', onListen: () => console.log('ready') }, hello);
}
