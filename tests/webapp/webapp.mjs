// The web app's own database code, run against the bot's database file: the seed's
// Kysely + @libsql/kysely-libsql stack, its table creation and its procedures
// (shared/seeds: lora.create / complete / list / getById, generate.images' rate limit and
// inserts, generate.listByLora, generate.remaining). Not a Python imitation: rows written
// here are written exactly as the web app writes them.
//
// Protocol: one JSON object per line on stdin ({"id", "op", "args"}), one JSON answer per
// line on stdout ({"id", "ok", "result"} or {"id", "ok": false, "error"}).
import { createInterface } from "node:readline";
import { Kysely, sql } from "kysely";
import { LibsqlDialect } from "@libsql/kysely-libsql";

const url = process.argv[2];
if (!url) {
  console.error("usage: node webapp.mjs file:/path/to/db");
  process.exit(2);
}
const db = new Kysely({ dialect: new LibsqlDialect({ url }) });
// Turso serialises writers for the web app; on a shared local file SQLite's lock does,
// so wait for the bot's write as libsql's Python side does (busy_timeout 5000).
await sql`PRAGMA busy_timeout = 5000`.execute(db);

const RATE_LIMIT = 8; // batches per rolling 24 hours
const IMAGES_PER_BATCH = 4;

// --- packages/api/src/db.ts: tables created on first use --------------------------------
let loraInitialized = false;
async function ensureLoraTable() {
  if (loraInitialized) return;
  await sql`CREATE TABLE IF NOT EXISTS lora_trainings (
  id TEXT PRIMARY KEY,
  request_id TEXT UNIQUE NOT NULL,
  wallet_address TEXT NOT NULL,
  trigger_word TEXT NOT NULL,
  steps INTEGER NOT NULL,
  image_urls TEXT NOT NULL,
  lora_weights_url TEXT,
  status TEXT NOT NULL DEFAULT 'pending',
  created_at TEXT NOT NULL
)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS idx_lora_trainings_created_at ON lora_trainings(created_at)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS idx_lora_trainings_status ON lora_trainings(status)`.execute(db);
  loraInitialized = true;
}

let genImagesInitialized = false;
async function ensureGeneratedImagesTable() {
  if (genImagesInitialized) return;
  await sql`CREATE TABLE IF NOT EXISTS generated_images (
  id TEXT PRIMARY KEY,
  lora_training_id TEXT NOT NULL,
  wallet_address TEXT NOT NULL,
  prompt TEXT NOT NULL,
  image_url TEXT NOT NULL,
  image_width INTEGER,
  image_height INTEGER,
  seed TEXT,
  created_at TEXT NOT NULL
)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS idx_gen_images_lora ON generated_images(lora_training_id)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS idx_gen_images_wallet ON generated_images(wallet_address)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS idx_gen_images_created ON generated_images(created_at)`.execute(db);
  genImagesInitialized = true;
}

function toLora(row) {
  return {
    id: row.id,
    requestId: row.request_id,
    walletAddress: row.wallet_address,
    triggerWord: row.trigger_word,
    steps: row.steps,
    imageUrls: JSON.parse(row.image_urls),
    loraWeightsUrl: row.lora_weights_url,
    status: row.status,
    createdAt: row.created_at,
  };
}

// --- packages/api/src/features/lora.ts ---------------------------------------------------
const procedures = {
  // Called inside fal.trainLora right after fal accepted the job: the pending row.
  async "lora.create"({ requestId, walletAddress, triggerWord, steps, imageUrls }) {
    await ensureLoraTable();
    const row = await db
      .insertInto("lora_trainings")
      .values({
        id: sql`hex(randomblob(16))`,
        request_id: requestId,
        wallet_address: walletAddress,
        trigger_word: triggerWord,
        steps,
        image_urls: JSON.stringify(imageUrls),
        lora_weights_url: null,
        status: "pending",
        created_at: new Date().toISOString(),
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    return { id: row.id };
  },

  // The client calls this when it fetched fal's result; only the record's own wallet.
  async "lora.complete"({ requestId, loraWeightsUrl, walletAddress }) {
    await ensureLoraTable();
    const result = await db
      .updateTable("lora_trainings")
      .set({ status: "completed", lora_weights_url: loraWeightsUrl })
      .where("request_id", "=", requestId)
      .where("wallet_address", "=", walletAddress)
      .executeTakeFirst();
    return { updated: Number(result.numUpdatedRows) };
  },

  async "lora.list"() {
    await ensureLoraTable();
    const rows = await db
      .selectFrom("lora_trainings")
      .selectAll()
      .where("status", "=", "completed")
      .orderBy("created_at", "desc")
      .execute();
    return rows.map(toLora);
  },

  async "lora.getById"({ id }) {
    await ensureLoraTable();
    const row = await db.selectFrom("lora_trainings").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new Error("NOT_FOUND");
    return toLora(row);
  },

  // --- packages/api/src/features/generate.ts ---------------------------------------------
  // generate.images without the fal call: the rate limit (checked before fal), then one
  // row per image fal returned (the test says which), with the raw prompt.
  async "generate.images"({ loraTrainingId, prompt, walletAddress, images, exempt = false }) {
    await ensureGeneratedImagesTable();
    if (!prompt || prompt.length < 1 || prompt.length > 500) throw new Error("BAD_REQUEST");
    const lora = await db.selectFrom("lora_trainings").selectAll().where("id", "=", loraTrainingId).executeTakeFirst();
    if (!lora) throw new Error("NOT_FOUND");
    if (lora.status !== "completed" || !lora.lora_weights_url) throw new Error("BAD_REQUEST");
    if (!exempt) {
      const used = await batchesUsed(walletAddress);
      if (used >= RATE_LIMIT) throw new Error("FORBIDDEN");
    }
    const saved = [];
    for (const image of images) {
      const row = {
        id: crypto.randomUUID(),
        lora_training_id: loraTrainingId,
        wallet_address: walletAddress,
        prompt,
        image_url: image.url,
        image_width: image.width ?? null,
        image_height: image.height ?? null,
        seed: image.seed == null ? null : String(image.seed),
        created_at: new Date().toISOString(),
      };
      await db.insertInto("generated_images").values(row).execute();
      saved.push({ id: row.id, imageUrl: row.image_url, width: row.image_width, height: row.image_height, seed: row.seed });
    }
    return saved;
  },

  async "generate.listByLora"({ loraTrainingId }) {
    await ensureGeneratedImagesTable();
    return await db
      .selectFrom("generated_images")
      .selectAll()
      .where("lora_training_id", "=", loraTrainingId)
      .orderBy("created_at", "desc")
      .execute();
  },

  async "generate.remaining"({ walletAddress, exempt = false }) {
    await ensureGeneratedImagesTable();
    if (exempt) return { remaining: RATE_LIMIT, limit: RATE_LIMIT, isExempt: true };
    const used = await batchesUsed(walletAddress);
    return { remaining: Math.max(0, RATE_LIMIT - used), limit: RATE_LIMIT, isExempt: false };
  },
};

// The seed's rate-limit query: the wallet's images of the last 24 hours, 4 to a batch.
async function batchesUsed(walletAddress) {
  const since = new Date(Date.now() - 24 * 60 * 60 * 1000).toISOString();
  const row = await db
    .selectFrom("generated_images")
    .select(db.fn.countAll().as("count"))
    .where("wallet_address", "=", walletAddress)
    .where("created_at", ">", since)
    .executeTakeFirstOrThrow();
  return Math.floor(Number(row.count) / IMAGES_PER_BATCH);
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const { id, op, args } = JSON.parse(line);
  try {
    const procedure = procedures[op];
    if (!procedure) throw new Error(`unknown procedure ${op}`);
    const result = await procedure(args ?? {});
    process.stdout.write(JSON.stringify({ id, ok: true, result }) + "\n");
  } catch (error) {
    process.stdout.write(JSON.stringify({ id, ok: false, error: String(error?.message ?? error) }) + "\n");
  }
}
await db.destroy();
