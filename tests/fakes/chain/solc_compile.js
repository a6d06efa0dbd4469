// Compiles Solidity with solc-js: standard JSON input on stdin, on stdout
// {"version": <compiler version>, "output": <standard JSON output>}.
// Used by tests/fakes/chain/solc.py; needs `solc` in the top-level node_modules.
const solc = require("solc");

const chunks = [];
process.stdin.on("data", (chunk) => chunks.push(chunk));
process.stdin.on("end", () => {
  const output = JSON.parse(solc.compile(Buffer.concat(chunks).toString("utf8")));
  process.stdout.write(JSON.stringify({ version: solc.version(), output }));
});
