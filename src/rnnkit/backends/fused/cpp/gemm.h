// The time loop's matrix product, C = X W for a few rows X (B, K) and a weight W (K, N) used at
// every step, for the rows of X a thread takes (lstm.cpp splits a step's batch over threads).
//
// Why our own: at the recurrent product's sizes (B = 16..64 rows, K = 128..512) a library
// GEMM runs one thread near this CPU's peak, but does not speed up with a second (oneDNN's
// batch-reduce kernel behind ATen's brgemm ran 37 µs on one thread and on two, at 32 x 128 x
// 512), and a call per step costs its own setup. Here W is packed once per sequence into
// panels of PANEL columns (each K x PANEL, contiguous, zero-padded), and the register-blocked
// kernel below runs over them: ROWS rows x PANEL columns of C kept in vector registers while k
// runs over K, one broadcast of X and two loads of W per k.

#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace rnnkit {

template <typename T>
using Vec = at::vec::Vectorized<T>;

// One register of this CPU's vector unit as a GCC vector type: plain arithmetic on it compiles
// to vector instructions (fused multiply-adds with -ffp-contract=fast), and an array of them
// stays in registers through the loop over k (ATen's Vectorized, a class whose stores take its
// address, was written back to memory every iteration).
#if defined(CPU_CAPABILITY_AVX512)
constexpr int64_t REGISTER_BYTES = 64;
constexpr int64_t ROWS = 8;  // 32 registers: 16 accumulators, 2 of W, 1 of X
#else
constexpr int64_t REGISTER_BYTES = 32;
constexpr int64_t ROWS = 6;  // 16 registers: 12 accumulators, 2 of W, 1 of X
#endif

// (GCC drops vector_size on an alias template's dependent type, so one typedef per type.)
typedef float FloatLanes __attribute__((vector_size(REGISTER_BYTES)));
typedef double DoubleLanes __attribute__((vector_size(REGISTER_BYTES)));

template <typename T>
struct LanesOf;
template <>
struct LanesOf<float> {
  using type = FloatLanes;
};
template <>
struct LanesOf<double> {
  using type = DoubleLanes;
};

template <typename T>
using Lanes = typename LanesOf<T>::type;

template <typename T>
constexpr int64_t LANES = REGISTER_BYTES / sizeof(T);

template <typename T>
constexpr int64_t PANEL = 2 * LANES<T>;  // columns per panel: two registers

// This core's L2 in bytes (sysconf's answer; 0 where it does not know).
inline int64_t l2_bytes() {
  static const int64_t l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  return l2 > 0 ? l2 : 0;
}

// W (K, N) packed so that panel q holds columns q*PANEL .. q*PANEL+PANEL, K x PANEL contiguous.
template <typename T>
struct Panels {
  at::Tensor data;  // (blocks, K, PANEL)
  int64_t K, width, blocks;

  int64_t bytes() const { return blocks * K * PANEL<T> * int64_t(sizeof(T)); }

  // too large (over a quarter of L2) to stay there beside the rest: fetch the next panel ahead
  bool streamed() const { return l2_bytes() > 0 && 4 * bytes() > l2_bytes(); }

  const T* panel(int64_t block) const { return data.data_ptr<T>() + block * K * PANEL<T>; }
};

// One pass from W (any strides: U^T is a transposed view) into fresh panels, reading along
// W's unit stride, the padding columns written as zeros: zero-filling, copying and permuting
// through ATen took 170 µs at 128 x 512 here, for every weight a fused LSTM call packs.
template <typename T>
Panels<T> pack(const at::Tensor& W) {
  const int64_t K = W.size(0), width = W.size(1);
  const int64_t blocks = (width + PANEL<T> - 1) / PANEL<T>;
  at::Tensor data = at::empty({blocks, K, PANEL<T>}, W.options());
  const T* w = W.data_ptr<T>();
  T* out = data.data_ptr<T>();
  const int64_t row_stride = W.stride(0), column_stride = W.stride(1);
  const bool by_columns = row_stride == 1 && column_stride != 1;  // W^T contiguous
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / (K * PANEL<T>));
  at::parallel_for(0, blocks, grain, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      T* panel = out + q * K * PANEL<T>;
      for (int64_t j = 0; j < PANEL<T>; ++j) {
        const int64_t column = q * PANEL<T> + j;
        if (column >= width) {
          for (int64_t k = 0; k < K; ++k) panel[k * PANEL<T> + j] = T(0);
        } else if (by_columns) {
          const T* source = w + column * column_stride;
          for (int64_t k = 0; k < K; ++k) panel[k * PANEL<T> + j] = source[k];
        }
      }
      if (by_columns) continue;
      const int64_t columns = std::min(PANEL<T>, width - q * PANEL<T>);
      for (int64_t k = 0; k < K; ++k) {
        const T* source = w + k * row_stride + q * PANEL<T> * column_stride;
        for (int64_t j = 0; j < columns; ++j) panel[k * PANEL<T> + j] = source[j * column_stride];
      }
    }
  });
  return Panels<T>{data, K, width, blocks};
}

// How a tile fetches rows of the next panel (into L2) as it runs: not at all, a row (two
// lines with AVX-512, one with AVX2) at every k, or a row every `every` values of k.
enum class Fetch { none, each_k, spread };

// C[r, 0..columns) = sum_k X[r, k] W_panel[k, 0..columns) for r < R (R <= ROWS rows), X with
// row stride ldx, C with row stride ldc; rows of the next panel fetched from `fetch` on, as
// FETCH says (`every`: Fetch::spread's distance in k between two rows).
template <typename T, int64_t R, Fetch FETCH = Fetch::none>
inline void tile(const T* X, int64_t ldx, const T* panel, int64_t K, T* C, int64_t ldc,
                 int64_t columns, const T* fetch = nullptr, int64_t every = 1) {
  Lanes<T> low[R] = {}, high[R] = {};
  auto fetch_row = [&] {
    __builtin_prefetch(fetch, 0, 2);
    __builtin_prefetch(fetch + LANES<T>, 0, 2);
    fetch += PANEL<T>;
  };
  int64_t wait = 0;  // Fetch::spread: values of k until the next row is fetched
  for (int64_t k = 0; k < K; ++k) {
    if constexpr (FETCH == Fetch::each_k) {
      fetch_row();
    } else if constexpr (FETCH == Fetch::spread) {
      if (wait == 0) {
        fetch_row();
        wait = every;
      }
      --wait;
    }
    Lanes<T> w_low, w_high;
    std::memcpy(&w_low, panel + k * PANEL<T>, sizeof(w_low));
    std::memcpy(&w_high, panel + k * PANEL<T> + LANES<T>, sizeof(w_high));
#pragma GCC unroll 16
    for (int64_t r = 0; r < R; ++r) {
      const T x = X[r * ldx + k];
      low[r] += x * w_low;
      high[r] += x * w_high;
    }
  }
  const int64_t first = std::min(columns, LANES<T>), second = columns - first;
  for (int64_t r = 0; r < R; ++r) {
    std::memcpy(C + r * ldc, &low[r], first * sizeof(T));
    if (second > 0) std::memcpy(C + r * ldc + LANES<T>, &high[r], second * sizeof(T));
  }
}

template <typename T, int64_t R = ROWS>
inline void tail(int64_t rows, const T* X, int64_t ldx, const T* panel, int64_t K, T* C,
                 int64_t ldc, int64_t columns) {
  if constexpr (R > 1) {
    if (rows < R) return tail<T, R - 1>(rows, X, ldx, panel, K, C, ldc, columns);
  }
  tile<T, R>(X, ldx, panel, K, C, ldc, columns);
}

// Memory the next step will read, asked for (into L2) while a product runs, a slice after each
// panel so that the requests spread over the product. Buffers written before the loop (a step's
// input part) are long out of L2 when a step reads them, in four short runs per row (one per
// gate), each too short for the hardware's prefetcher to get ahead: at B 16, H 256 the loads of
// A_t stalled the gates' pass most of its time; fetched ahead, the fused LSTM's loop took 55-57
// µs a step instead of 69-70 and its inference ran 1.07-1.15x as fast (Intel Xeon, 2 threads).
// Only where W's panels stay in L2 with room to spare: at H 512 (U's panels 4 MB) the fetches
// displaced panels and the step took 4% longer. (The GRU's and RNN's loops gained 0-4%: they
// do not use it.)
struct Ahead {
  const char* begin = nullptr;  // the next step's rows of a buffer, or null: nothing to fetch
  int64_t bytes = 0;

  // Whether fetching ahead pays beside a product whose panels take `panel_bytes`: at most half
  // of this core's L2 (never where it is not known).
  static bool pays(int64_t panel_bytes) {
    return l2_bytes() > 0 && 2 * panel_bytes <= l2_bytes();
  }

  // rows [b0, b1) of `next`, a (B, width) step, or nothing where next is null
  template <typename T>
  static Ahead rows(const T* next, int64_t b0, int64_t b1, int64_t width) {
    if (next == nullptr) return {};
    const int64_t bytes = (b1 - b0) * width * int64_t(sizeof(T));
    return {reinterpret_cast<const char*>(next + b0 * width), bytes};
  }
};

// Panel q's columns of C = X W for B rows of X (row stride ldx) into C (row stride ldc). Where
// W's panels are `streamed()` (larger than a quarter of L2, read by every tile of rows of a thread
// at every step: at H 512 each thread's 4 MB of U came from L3, a panel's first tile waiting on
// it), panel q + 1, if it is below `end` (the panels of this product), is fetched while panel q
// runs, spread over its tiles of rows: the i-th of n tiles fetches the i-th n-th of panel q + 1's
// K rows, a row every n values of k (a row at every k where one tile takes all: the counter's
// test cost 2-3% at (16,200,256)). Fetched by the first tile alone, the LSTM op's inference at
// (64,100,512) took 61.3-62.6 ms against 65.8-66.6 without; spread over the tiles, 57.3-59.5
// against 60.3-63.3, and its training with layer norm 204-217 against 219-230 (Intel Xeon, 2
// threads, builds alternated).
template <typename T>
void panel_product(const T* X, int64_t B, int64_t ldx, const Panels<T>& W, T* C, int64_t ldc,
                   int64_t q, int64_t end) {
  const T* panel = W.panel(q);
  const int64_t first = q * PANEL<T>;
  const int64_t columns = std::min(PANEL<T>, W.width - first);
  const int64_t tiles = B / ROWS;
  const bool fetch_next = q + 1 < end && tiles > 0 && W.streamed();
  int64_t r = 0;
  for (int64_t i = 0; i < tiles; ++i, r += ROWS) {
    const T* x = X + r * ldx;
    T* out = C + r * ldc + first;
    if (fetch_next) {
      const T* next = W.panel(q + 1) + i * W.K / tiles * PANEL<T>;
      if (tiles == 1) {
        tile<T, ROWS, Fetch::each_k>(x, ldx, panel, W.K, out, ldc, columns, next);
      } else {
        tile<T, ROWS, Fetch::spread>(x, ldx, panel, W.K, out, ldc, columns, next, tiles);
      }
    } else {
      tile<T, ROWS>(x, ldx, panel, W.K, out, ldc, columns);
    }
  }
  if (r < B) tail<T>(B - r, X + r * ldx, ldx, panel, W.K, C + r * ldc + first, ldc, columns);
}

// C = X W, panel by panel: the columns of panels [q0, q1), or of every panel.
template <typename T>
void product(const T* X, int64_t B, int64_t ldx, const Panels<T>& W, T* C, int64_t ldc,
             int64_t q0 = 0, int64_t q1 = -1) {
  if (q1 < 0) q1 = W.blocks;
  for (int64_t q = q0; q < q1; ++q) panel_product(X, B, ldx, W, C, ldc, q, q1);
}

// The same, with slice q of `blocks` slices of `ahead` fetched after panel q.
template <typename T>
void product(const T* X, int64_t B, int64_t ldx, const Panels<T>& W, T* C, int64_t ldc,
             int64_t q0, int64_t q1, Ahead ahead) {
  constexpr int64_t LINE = 64;
  for (int64_t q = q0; q < q1; ++q) {
    panel_product(X, B, ldx, W, C, ldc, q, q1);
    if (ahead.begin == nullptr) continue;
    const int64_t end = (q + 1) * ahead.bytes / W.blocks;
    for (int64_t o = q * ahead.bytes / W.blocks / LINE * LINE; o < end; o += LINE) {
      __builtin_prefetch(ahead.begin + o, 0, 2);
    }
  }
}

}  // namespace rnnkit
