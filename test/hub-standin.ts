/**
 * A local stand-in for the Hugging Face Hub's dataset API, answering as the Hub does:
 *   GET /api/datasets/<repo>/parquet                          {config: {split: [file URLs]}}
 *   GET /api/datasets/<repo>/parquet/<config>/<split>/<n>.parquet   302 to the file under resolve/
 *   GET /datasets/<repo>/resolve/refs%2Fconvert%2Fparquet/<config>/<split>/<nnnn>.parquet
 *       the bytes, honouring Range: bytes=<from>- (206, or 416 past the end)
 * Gated datasets answer 401 without `Authorization: Bearer <token>`. `breakAfter` cuts the first
 * answer of each file after that many bytes (a dropped connection), to test resuming.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandInDataset {
  /** config → split → the Parquet files' bytes, in order. */
  splits: Record<string, Record<string, Uint8Array[]>>;
  /** When set, requests need this token. */
  token?: string;
}

export interface HubStandIn {
  url: string;
  /** Every request, as "METHOD path [range]". */
  requests: string[];
  close(): Promise<void>;
}

export async function startHubStandIn(
  datasets: Record<string, StandInDataset>,
  /** publicUrl: the address its listings name (the Hub's, where a browser test routes huggingface.co to it). */
  options: { breakAfter?: number; publicUrl?: string } = {},
): Promise<HubStandIn> {
  const requests: string[] = [];
  const broken = new Set<string>();
  let base = '';

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', base).pathname);
    const range = req.headers.range;
    requests.push(`${req.method} ${path}${range ? ` ${range}` : ''}`);
    const api = /^\/api\/datasets\/([^/]+\/[^/]+)\/parquet(?:\/([^/]+)\/([^/]+)\/(\d+)\.parquet)?$/.exec(path);
    const file = /^\/datasets\/([^/]+\/[^/]+)\/resolve\/refs\/convert\/parquet\/([^/]+)\/([^/]+)\/(\d{4})\.parquet$/.exec(path);
    const repo = api?.[1] ?? file?.[1];
    const dataset = repo === undefined ? undefined : datasets[repo];
    if (!dataset) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'Repository not found' }));
      return;
    }
    if (dataset.token !== undefined && req.headers.authorization !== `Bearer ${dataset.token}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'Access to this dataset is restricted' }));
      return;
    }
    if (api && api[2] === undefined) {
      const listing = Object.fromEntries(
        Object.entries(dataset.splits).map(([config, splits]) => [
          config,
          Object.fromEntries(
            Object.entries(splits).map(([split, files]) => [
              split,
              files.map(
                (_, i) =>
                  `${options.publicUrl ?? base}/api/datasets/${repo}/parquet/${encodeURIComponent(config)}/${encodeURIComponent(split)}/${i}.parquet`,
              ),
            ]),
          ),
        ]),
      );
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(listing));
      return;
    }
    if (api) {
      const [, , config, split, n] = api;
      const target = `/datasets/${repo}/resolve/${encodeURIComponent('refs/convert/parquet')}/${encodeURIComponent(config)}/${encodeURIComponent(split)}/${n.padStart(4, '0')}.parquet`;
      res.writeHead(302, { location: target }).end();
      return;
    }
    const bytes = dataset.splits[file![2]]?.[file![3]]?.[Number(file![4])];
    if (!bytes) {
      res.writeHead(404).end('Entry not found');
      return;
    }
    const from = range ? Number(/^bytes=(\d+)-$/.exec(range)?.[1] ?? 0) : 0;
    if (from >= bytes.length) {
      res.writeHead(416, { 'content-range': `bytes */${bytes.length}` }).end();
      return;
    }
    const body = bytes.subarray(from);
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' };
    if (range) headers['content-range'] = `bytes ${from}-${bytes.length - 1}/${bytes.length}`;
    headers['content-length'] = String(body.length);
    res.writeHead(range ? 206 : 200, headers);
    if (options.breakAfter !== undefined && !broken.has(path) && body.length > options.breakAfter) {
      broken.add(path);
      // The connection drops a moment after the first bytes (a client reads what arrived before the error).
      res.write(body.subarray(0, options.breakAfter), () => setTimeout(() => res.destroy(), 300));
      return;
    }
    res.end(body);
  };

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
