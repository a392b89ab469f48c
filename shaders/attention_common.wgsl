// Helpers the three attention kernels share, placed before each kernel's text (after the constants of
// attention_forward.wgsl and the program's uniforms).

// A tile: R consecutive rows (from `start`, `rows` of them inside the sequence) of one head: a query
// head b·HEADS + h for the forward and dq kernels, a KV head b·KV_HEADS + g for the dk/dv kernel.
struct Tile {
  head : i32,
  start : i32,
  rows : i32,
}

// Invocations take tiles position-major, heads minor, the costliest positions first: under the causal
// mask a late query row sees the most keys (`lateFirst`, forward and dq) and an early key row is seen
// by the most queries (dk/dv). Workgroups that start with the long tiles leave the short ones to fill
// the gaps, instead of one workgroup of long tiles finishing alone.
fn tileOf(index : i32, lateFirst : bool) -> Tile {
  let tilesPerSeq = (uniforms.seq + R - 1) / R;
  let heads = uniforms.tiles / tilesPerSeq;
  var t = index / heads;
  if (lateFirst) {
    t = tilesPerSeq - 1 - t;
  }
  let start = t * R;
  return Tile(index % heads, start, min(R, uniforms.seq - start));
}

// Where the KV head that query head bh (= b·HEADS + h) reads starts in k and v, in vec4s.
fn kvBaseOf(bh : i32) -> i32 {
  let b = bh / HEADS;
  let kvh = (bh % HEADS) / GROUP;
  return (b * KV_HEADS + kvh) * uniforms.seq * Q4;
}

// Whether query i sees key j: causal, and inside the window when there is one.
fn sees(i : i32, j : i32) -> bool {
  return j <= i && (WINDOW == 0 || i - j < WINDOW);
}

// The first key query i reads, and the last query that reads key j.
fn firstKey(i : i32) -> i32 {
  if (WINDOW > 0) {
    return max(0, i - WINDOW + 1);
  }
  return 0;
}

fn lastQuery(j : i32) -> i32 {
  if (WINDOW > 0) {
    return min(uniforms.seq - 1, j + WINDOW - 1);
  }
  return uniforms.seq - 1;
}
