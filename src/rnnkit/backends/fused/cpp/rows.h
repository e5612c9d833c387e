// What lstm.cpp's and gru.cpp's time loops share: vectorised passes over one row of the batch
// (the gates' functions, layer norm's row statistics), a step's view of a (T, ...) buffer, and
// how a step's work goes to threads (whole rows of the batch each).

#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>

#include "gemm.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <tuple>
#include <utility>

namespace rnnkit {

using at::Tensor;

// ---------------------------------------------------------------------------------------------
// Vectorised helpers over one row of n elements: f(offset, count) on whole vectors, then on
// the remainder (Vectorized's loadu/store take a count; loadu fills the rest with zeros).

template <typename T, typename F>
inline void over_range(int64_t begin, int64_t end, const F& f) {
  constexpr int64_t width = Vec<T>::size();
  int64_t j = begin;
  for (; j + width <= end; j += width) f(j, width);
  if (j < end) f(j, end - j);
}

template <typename T, typename F>
inline void over_row(int64_t n, const F& f) {
  over_range<T>(0, n, f);
}

// The sum of v's lanes, by shuffles within the register (a store and a scalar loop of
// dependent additions cost tens of cycles, paid several times per row and step by layer norm).
template <typename T>
inline T sum_of(const Vec<T>& v) {
  return at::vec::vec_reduce_all<T>(std::plus<Vec<T>>(), v);
}

// sum_j term(j, count) over a row of n elements, term giving whole vectors (count = width) and
// then the remainder (its padding lanes zero), in four running sums: one sum is a chain of
// n / width dependent additions, each waiting for the last (4 cycles), four overlap.
template <typename T, typename F>
inline T row_sum(int64_t n, const F& term) {
  constexpr int64_t width = Vec<T>::size();
  Vec<T> s0(0), s1(0), s2(0), s3(0);
  int64_t j = 0;
  for (; j + 4 * width <= n; j += 4 * width) {
    s0 += term(j, width);
    s1 += term(j + width, width);
    s2 += term(j + 2 * width, width);
    s3 += term(j + 3 * width, width);
  }
  for (; j + width <= n; j += width) s0 += term(j, width);
  if (j < n) s1 += term(j, n - j);
  return sum_of((s0 + s1) + (s2 + s3));
}

// σ(a) = 1 / (1 + e^-a), with ATen's fast exp (a polynomial, within 20 ulp in float32: the
// accuracy of the kernels torch's own LSTM runs; float64 gets the exact exp).
template <typename T>
inline Vec<T> sigmoid(const Vec<T>& a) {
  const Vec<T> one(1);
  return one / (one + a.neg().exp_u20());
}

// tanh(a) = 2 σ(2a) - 1: one exp, against SLEEF's tanh at twice the cost.
template <typename T>
inline Vec<T> tanh(const Vec<T>& a) {
  const Vec<T> two(2);
  return two * sigmoid(two * a) - Vec<T>(1);
}

// torch.lerp's formula: start + w (end - start) for w < 1/2, else end - (end - start)(1 - w),
// so that w = 1 (a padded step) gives exactly `end`, the state before.
template <typename T>
inline Vec<T> lerp(const Vec<T>& start, const Vec<T>& end, const Vec<T>& w) {
  const Vec<T> one(1), half(0.5);
  const Vec<T> diff = end - start;
  return Vec<T>::blendv(end - diff * (one - w), start + w * diff, w < half);
}

// Layer normalisation's row statistics: mean and 1/sqrt(var + eps) of x[0..n).
template <typename T>
inline void row_moments(const T* x, int64_t n, double eps, T& mean, T& rstd) {
  mean = row_sum<T>(n, [&](int64_t j, int64_t count) { return Vec<T>::loadu(x + j, count); }) / n;
  const Vec<T> m(mean);
  const T squares = row_sum<T>(n, [&](int64_t j, int64_t count) {
    // the padding lanes of a short load are 0, not the mean: mask them out
    Vec<T> centred = Vec<T>::loadu(x + j, count) - m;
    if (count < Vec<T>::size()) centred = Vec<T>::set(Vec<T>(0), centred, count);
    return centred * centred;
  });
  rstd = T(1) / std::sqrt(squares / n + T(eps));
}

// Step t of a (T, ...) buffer, without making a tensor of it (a select, about 0.5 µs, costs as
// much as a small step's arithmetic).
template <typename T>
inline T* step_of(const Tensor& x, int64_t t) {
  return x.data_ptr<T>() + t * x.stride(0);
}

// How a step's work goes to threads. Whole rows of the batch, `chunks` of them (about a register
// tile of rows each), when there are as many chunks as threads: then a thread runs its rows'
// step from end to end, one parallel region. A small batch on more threads (B = 8 on 2, B = 32
// on 16) leaves threads idle that way, so there each chunk's product is also split into
// `groups` of U's panels, and the element-wise work runs by rows in a region of its own.
struct Split {
  int64_t chunks, groups;

  static Split of(int64_t B) {
    const int64_t threads = at::get_num_threads();
    const int64_t chunks = std::clamp<int64_t>((B + rnnkit::ROWS - 1) / rnnkit::ROWS, 1, threads);
    return {chunks, std::max<int64_t>(1, threads / chunks)};
  }

  // rows [b0, b1) of chunk c of a batch of B
  std::pair<int64_t, int64_t> rows(int64_t c, int64_t B) const {
    return {c * B / chunks, (c + 1) * B / chunks};
  }

  // panels [q0, q1) of group g of `blocks`
  std::pair<int64_t, int64_t> panels(int64_t g, int64_t blocks) const {
    return {g * blocks / groups, (g + 1) * blocks / groups};
  }

  // f(b0, b1, q0, q1) for every chunk of rows and group of panels, in one parallel region
  template <typename F>
  void run(int64_t B, int64_t blocks, const F& f) const {
    at::parallel_for(0, chunks * groups, 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const auto [b0, b1] = rows(i / groups, B);
        const auto [q0, q1] = panels(i % groups, blocks);
        f(b0, b1, q0, q1);
      }
    });
  }
};

// f(b0, b1) over rows [0, B), split over every thread: element-wise work.
template <typename F>
inline void by_rows(int64_t B, const F& f) {
  at::parallel_for(0, B, 1, f);
}

// A zoneout mask of any shape that broadcasts to (T, B, n), as (T, B, n) with contiguous
// steps; one the same at every step (stride 0 over time: p in evaluation) is made once, so
// that step_of gives that one (B, n) at every t.
inline Tensor every_step(const Tensor& mask, int64_t T, int64_t B, int64_t n) {
  const Tensor full = mask.expand({T, B, n});
  if (full.stride(0) == 0) return full[0].contiguous().expand({T, B, n});
  return full.contiguous();
}

// LN's backward for one row: dx = rstd (dy γ - mean(dy γ) - x^ mean(dy γ x^)),
// x^ = (x - mean) rstd, from dy (n) into dx (n); and the row's shares of the gain's and the
// bias's gradients, dy x^ and dy, added into d_gain and d_bias (d_bias may be null). dx may be
// dy: each element of dy is read before its dx is written.
template <typename T>
inline void layer_norm_row_backward(const T* dy, const T* x, T mean, T rstd, const T* gain,
                                    int64_t n, T* dx, T* d_gain, T* d_bias) {
  auto dg = [&](int64_t j, int64_t count) {  // zero in the padding lanes: dy and gain load as 0
    return Vec<T>::loadu(dy + j, count) * Vec<T>::loadu(gain + j, count);
  };
  const T mean_dg = row_sum<T>(n, dg) / n;
  const T mean_dg_x = row_sum<T>(n, [&](int64_t j, int64_t count) {
    return dg(j, count) * (Vec<T>::loadu(x + j, count) - Vec<T>(mean)) * Vec<T>(rstd);
  }) / n;
  over_row<T>(n, [&](int64_t j, int64_t count) {
    const Vec<T> x_hat = (Vec<T>::loadu(x + j, count) - Vec<T>(mean)) * Vec<T>(rstd);
    const Vec<T> dy_j = Vec<T>::loadu(dy + j, count);
    const Vec<T> dg_j = dy_j * Vec<T>::loadu(gain + j, count);
    (Vec<T>(rstd) * (dg_j - Vec<T>(mean_dg) - x_hat * Vec<T>(mean_dg_x))).store(dx + j, count);
    (Vec<T>::loadu(d_gain + j, count) + dy_j * x_hat).store(d_gain + j, count);
    if (d_bias != nullptr) (Vec<T>::loadu(d_bias + j, count) + dy_j).store(d_bias + j, count);
  });
}

// x, or LN(x) γ = (x - mean) rstd γ: a pre-activation's recurrent part at [j, j+count).
template <typename T>
inline Vec<T> recurrent(const T* u, const T* gamma, T mean, T rstd, int64_t j, int64_t count) {
  const Vec<T> x = Vec<T>::loadu(u + j, count);
  if (gamma == nullptr) return x;
  return (x - Vec<T>(mean)) * Vec<T>(rstd) * Vec<T>::loadu(gamma + j, count);
}

// The (mean, rstd) a row's recurrent part u[0..n) is normalised with: its layer norm's moments,
// kept for backward at mean[b] and rstd[b], where a gain is given; (0, 1), unused, without.
template <typename T>
inline std::pair<T, T> recurrent_moments(const T* u, int64_t n, const T* gain, double eps,
                                         T* mean, T* rstd, int64_t b) {
  if (gain == nullptr) return {T(0), T(1)};
  row_moments(u, n, eps, mean[b], rstd[b]);
  return {mean[b], rstd[b]};
}

// A GRU row's reset and update gates, [r_t, z_t] = σ(A_t + U_rz v_t), or with layer norm
// σ(A_t + LN(U_rz v_t) γ^h), over the first 2H of A and u, into rz (2H).
template <typename T>
inline void reset_and_update(const T* u, const T* gain, T mean, T rstd, const T* A, T* rz,
                             int64_t H) {
  over_row<T>(2 * H, [&](int64_t j, int64_t count) {
    sigmoid(recurrent(u, gain, mean, rstd, j, count) + Vec<T>::loadu(A + j, count))
        .store(rz + j, count);
  });
}

// out = x * y over the elements [begin, end): recurrent dropout's v_t = m * h_{t-1} for rows.
template <typename T>
inline void multiply(const T* x, const T* y, T* out, int64_t begin, int64_t end) {
  over_range<T>(begin, end, [&](int64_t j, int64_t count) {
    (Vec<T>::loadu(x + j, count) * Vec<T>::loadu(y + j, count)).store(out + j, count);
  });
}

// A step's phases, run in order over the batch's rows: element-wise work on rows
// (`rows_phase(f)`, f(b0, b1)) and products of rows with a weight's panels (`panels_phase(f,
// blocks)`, f(b0, b1, q0, q1)); `whole` runs a phase for one chunk of rows, `alone` over all
// rows as a parallel region of its own (a product also split over groups of panels).
template <typename F>
struct RowsPhase {
  F f;
  bool active;  // false: a phase of an option that is off, which runs nothing, not even a region
  void whole(int64_t b0, int64_t b1) const {
    if (active) f(b0, b1);
  }
  void alone(const Split&, int64_t B) const {
    if (active) by_rows(B, f);
  }
};

template <typename F>
struct PanelsPhase {
  F f;
  int64_t blocks;
  void whole(int64_t b0, int64_t b1) const { f(b0, b1, 0, blocks); }
  void alone(const Split& split, int64_t B) const { split.run(B, blocks, f); }
};

template <typename F>
RowsPhase<F> rows_phase(F f, bool active = true) {
  return {f, active};
}

template <typename F>
PanelsPhase<F> panels_phase(F f, int64_t blocks) {
  return {f, blocks};
}

// Every step's phases, t = 0..T-1 (or T-1..0 `backward`), phases_of(t) giving step t's as a
// tuple; every op's loop (LSTM, GRU, RNN, forward and backward) runs here. With as many chunks
// of rows as threads (split.groups == 1) a row needs no other row's work, within a step or
// across steps, so one parallel region runs each chunk of rows through the whole sequence (no
// thread waits for another at every step: 1.02-1.08x the speed of a region per step for the
// LSTM at (16,200,256,1), 1.02-1.4x for the GRU's and RNN's forwards at the smaller shapes,
// Intel Xeon); a small batch on more threads runs each phase of each step as a region of its
// own.
template <typename PhasesOf>
void run_steps(const Split& split, int64_t B, int64_t T, bool backward, const PhasesOf& phases_of) {
  auto time = [&](int64_t i) { return backward ? T - 1 - i : i; };
  if (split.groups == 1) {
    split.run(B, 1, [&](int64_t b0, int64_t b1, int64_t, int64_t) {
      for (int64_t i = 0; i < T; ++i) {
        std::apply([&](const auto&... phase) { (phase.whole(b0, b1), ...); }, phases_of(time(i)));
      }
    });
    return;
  }
  for (int64_t i = 0; i < T; ++i) {
    std::apply([&](const auto&... phase) { (phase.alone(split, B), ...); }, phases_of(time(i)));
  }
}

// The per-batch-row sums of layer norm's gains' gradients (B, n) added in row order: the same
// bits on any number of threads, as each row is one thread's at a step.
inline Tensor sum_in_row_order(const Tensor& rows) {
  Tensor total = rows[0].clone();
  for (int64_t b = 1; b < rows.size(0); ++b) total.add_(rows[b]);
  return total;
}

}  // namespace rnnkit
