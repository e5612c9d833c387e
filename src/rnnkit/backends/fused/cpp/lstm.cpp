// The fused LSTM's time loop in C++: the same computation as backends/fused/lstm.py (whose
// docstring has the equations, forward and backward, with every option), the same inputs and
// the same outputs, so either side's backward reads either side's forward.
//
// Why C++: at small batches and widths a step's work is a few microseconds per element-wise
// kernel, and Python's call of each (about ten per step, each way) cost as much again, beside a
// library matrix product that does not speed up with a second thread at these sizes. Here
// each thread takes whole rows of the batch (B rows over at most ceil(B / rnnkit::ROWS)
// threads, about a register tile each): its rows of U v_t (gemm.h, every panel of U), then the
// gates, c'_t, k_t, h_t of those rows in vectorised passes over whole rows (ATen's Vectorized),
// layer norm included, which needs whole rows, and a projection's product. A row's steps need
// no other row, so each thread runs its rows through the whole sequence in one parallel region:
// no thread waits for another at every step (1.02-1.08x the speed of a region per step at
// (16,200,256,1), Intel Xeon, interleaved). The backward likewise: dm_t, the gates' gradients,
// du_t U and g_{t-1}, for the thread's rows. Only where there are fewer row chunks than threads
// do U's panels split over threads too, and then each step is its own parallel regions
// (rows.h's run_steps, the phases of a step as the GRU's and RNN's loops have them).
//
// Storage: gates in order i | f | c | o; A (T,B,4H) the input product W x_t, its bias b added
// here row by row where A_t is read anyway (A_t + b, or with layer norm LN(A_t; γ^x) + b);
// S = h_0..h_T (T+1,B,P); C = c_0..c_T (T+1,B,H); P = proj_size or H.

#include <ATen/ATen.h>
#include <ATen/ExpandUtils.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>
#include <torch/library.h>

#include "buffers.h"
#include "gemm.h"
#include "rows.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <tuple>
#include <vector>

namespace {

using at::Tensor;
using Optional = std::optional<Tensor>;
using rnnkit::pack;
using rnnkit::Ahead;
using rnnkit::Panels;
using rnnkit::PANEL;
using rnnkit::product;
using rnnkit::Vec;
// rows.h
using rnnkit::every_step;
using rnnkit::layer_norm_row_backward;
using rnnkit::lerp;
using rnnkit::multiply;
using rnnkit::over_range;
using rnnkit::over_row;
using rnnkit::panels_phase;
using rnnkit::row_moments;
using rnnkit::rows_phase;
using rnnkit::run_steps;
using rnnkit::sigmoid;
using rnnkit::Split;
using rnnkit::step_of;
using rnnkit::sum_of;
using rnnkit::tanh;

// The op's inputs as lstm.py's Python loop takes them, or one error naming the first that is not:
// A (T,B,4H), h0 (B,P), c0 (B,H), U (4H,P), m (B,P), d (T,B,P), d^c (T,B,H) (each mask as any
// shape that broadcasts), γ^x and b (4H), γ^h (4H), γ^c and β^c (H), W_hr (P,H), all of A's
// dtype and on CPU.
void check_inputs(const Tensor& A, const Tensor& h0, const Tensor& c0, const Tensor& U,
                  const Optional& m, const Optional& d, const Optional& d_c,
                  const Optional& gamma_x, const Optional& bias, const Optional& gamma_h,
                  const Optional& gamma_c, const Optional& beta_c, const Optional& W_hr) {
  TORCH_CHECK(A.dim() == 3 && h0.dim() == 2 && c0.dim() == 2, "rnnkit::lstm: A must be (T,B,4H), "
              "h0 (B,P) and c0 (B,H)");
  const int64_t T = A.size(0), B = A.size(1), H = c0.size(1), P = h0.size(1);
  auto is = [](const Tensor& x, at::IntArrayRef shape) { return x.sizes() == shape; };
  TORCH_CHECK(A.size(2) == 4 * H && h0.size(0) == B && c0.size(0) == B,
              "rnnkit::lstm: A ", A.sizes(), ", h0 ", h0.sizes(), " and c0 ", c0.sizes(),
              " do not agree on (T, B, 4H), (B, P), (B, H)");
  TORCH_CHECK(is(U, {4 * H, P}), "rnnkit::lstm: U must be (4H, P) = (", 4 * H, ", ", P, "), got ",
              U.sizes());
  auto broadcasts = [](const Optional& x, at::IntArrayRef shape, const char* name) {
    if (!x.has_value()) return;
    TORCH_CHECK(at::is_expandable_to(x->sizes(), shape), "rnnkit::lstm: ", name,
                " of shape ", x->sizes(), " does not broadcast to ", shape);
  };
  broadcasts(m, {B, P}, "m");
  broadcasts(d, {T, B, P}, "d");
  broadcasts(d_c, {T, B, H}, "d_c");
  TORCH_CHECK(gamma_h.has_value() == gamma_c.has_value() && gamma_c.has_value() == beta_c.has_value(),
              "rnnkit::lstm: layer norm takes gamma_h, gamma_c and beta_c together");
  if (gamma_h.has_value()) {
    TORCH_CHECK(is(*gamma_h, {4 * H}) && is(*gamma_c, {H}) && is(*beta_c, {H}),
                "rnnkit::lstm: gamma_h must be (4H), gamma_c and beta_c (H)");
  }
  TORCH_CHECK(!gamma_x.has_value() || gamma_h.has_value(), "rnnkit::lstm: gamma_x (the input's "
              "layer norm) comes with the recurrent one: give gamma_h, gamma_c and beta_c too");
  for (const Optional& x : {gamma_x, bias}) {
    TORCH_CHECK(!x.has_value() || is(*x, {4 * H}), "rnnkit::lstm: gamma_x and bias must be "
                "(4H) = (", 4 * H, "), got ", x->sizes());
  }
  TORCH_CHECK(W_hr.has_value() ? is(*W_hr, {P, H}) : P == H,
              "rnnkit::lstm: W_hr must be (P, H) with a projection, and P = H without");
  for (const Optional& x : {Optional(h0), Optional(c0), Optional(U), m, d, d_c, gamma_x, bias,
                            gamma_h, gamma_c, beta_c, W_hr}) {
    if (!x.has_value()) continue;
    TORCH_CHECK(x->scalar_type() == A.scalar_type() && x->device().is_cpu(),
                "rnnkit::lstm: every input must be of A's dtype (", A.scalar_type(),
                ") and on CPU");
  }
}

// The options of this call (each a branch in the step's passes) and layer norm's epsilon.
struct Options {
  bool layer_norm, input_norm, zoneout_h, zoneout_c, proj, dropout;
  double eps;
};

// ---------------------------------------------------------------------------------------------
// Forward: the element-wise work of step t, for a row of the batch.
//   a_t = A_t + b + U v_t, or A_t + b + LN(U v_t) γ^h     (u: U v_t, saved for LN's backward)
//                          or LN(A_t; γ^x) + b + LN(U v_t) γ^h
//   [i, f, c~, o] = [σ, σ, tanh, σ](a_t)
//   c'_t = f c_{t-1} + i c~;  k_t = tanh(c'_t) or tanh(LN(c'_t; γ^c, β^c));  m_t = o k_t
//   without projection: c_t = lerp(c'_t, c_{t-1}, d^c_t), h_t = lerp(m_t, h_{t-1}, d_t)

template <typename T>
struct ForwardStep {
  T* a;              // (B,4H) U v_t (with layer norm, the step's saved copy of it)
  const T* A;        // (B,4H) A_t
  const T* gamma_x;  // (4H), or null: A_t as it is
  const T* bias;     // (4H) b, or null
  T* mean_x;         // (B)
  T* rstd_x;         // (B)
  const T* gamma_h;  // (4H)
  const T* gamma_c;  // (H)
  const T* beta_c;   // (H)
  T* mean_h;         // (B)
  T* rstd_h;         // (B)
  T* y;              // (B,4H) i | f | c~ | o
  const T* c_prev;   // (B,H)
  T* c_new;          // (B,H) c'_t
  T* c;              // (B,H) c_t (may be c_new)
  T* u_c;            // (B,H) c'_t, saved for LN
  T* mean_c;
  T* rstd_c;
  T* k;              // (B,H)
  T* m;              // (B,H) o k (may be h)
  const T* h_prev;   // (B,P)
  T* h;              // (B,P)
  const T* d;        // (B,P) zoneout of h, or null
  const T* d_c;      // (B,H) zoneout of c, or null
  T* v;              // (B,P) v_t = m * h_{t-1} with recurrent dropout, else null (v_t = h_{t-1})
  const T* A_next;   // (B,4H) A_{t+1} to fetch ahead during the product, or null
};

// k_t, m_t = o_t k_t and the zoneout of c_t and h_t from c'_t, for the elements [j, j+count)
// of row b (the pass after the gates; x: c'_t, or LN(c'_t) with layer norm).
template <typename T>
inline void finish(const ForwardStep<T>& s, const Options& o, int64_t H, int64_t P, int64_t b,
                   int64_t j, int64_t count, const Vec<T>& x) {
  const Vec<T> k_t = tanh(x);
  k_t.store(s.k + b * H + j, count);
  const Vec<T> m_t = Vec<T>::loadu(s.y + b * 4 * H + 3 * H + j, count) * k_t;
  m_t.store(s.m + b * H + j, count);
  if (o.zoneout_c) {
    lerp(Vec<T>::loadu(s.c_new + b * H + j, count), Vec<T>::loadu(s.c_prev + b * H + j, count),
         Vec<T>::loadu(s.d_c + b * H + j, count))
        .store(s.c + b * H + j, count);
  }
  if (o.zoneout_h && !o.proj) {  // with a projection, h_t comes after its product
    lerp(m_t, Vec<T>::loadu(s.h_prev + b * P + j, count), Vec<T>::loadu(s.d + b * P + j, count))
        .store(s.h + b * P + j, count);
  }
}

// The gates, c'_t and (without layer norm) the rest of step t for row b:
// from U v_t + A_t (+ b), or from y alone (A_t + b + LN(U v_t) γ^h, already there).
// next_A, the next row's A_t, is fetched (into L1) as this row runs, each gate's next vector
// beside this row's, where A_t was not fetched during the product (gemm.h's Ahead: not where
// U's panels fill L2, nor where L2's size is unknown): A is written before the loop and read
// from memory here. The op's inference at (64,100,512) took 54.5-58.2 ms against 58.2-61.1,
// with zoneout 55.6-59.3 against 58.9-61.8 (Intel Xeon, 2 threads, builds alternated); the same
// fetch with layer norm, whose row passes take longer, gained 0-2% (not used there); at
// (16,200,256), on top of Ahead, it cost 2-5%.
template <typename T>
inline void gates_forward(const ForwardStep<T>& s, const Options& o, int64_t H, int64_t P,
                          int64_t b, const T* next_A = nullptr) {
  const int64_t G = 4 * H;
  T* y = s.y + b * G;
  const T* a = o.layer_norm ? y : s.a + b * G;
  const T* add = o.layer_norm ? nullptr : s.A + b * G;
  const T* bias = o.layer_norm ? nullptr : s.bias;
  auto pre = [&](int64_t j, int64_t count) {  // a_t at j
    Vec<T> x = Vec<T>::loadu(a + j, count);
    if (add != nullptr) x = x + Vec<T>::loadu(add + j, count);
    return bias == nullptr ? x : x + Vec<T>::loadu(bias + j, count);
  };
  const T* c_prev = s.c_prev + b * H;
  T* c_new = s.c_new + b * H;
  over_row<T>(H, [&](int64_t j, int64_t count) {
    if (next_A != nullptr) {
      for (int64_t g = 0; g < 4; ++g) __builtin_prefetch(next_A + g * H + j, 0, 3);
    }
    const Vec<T> i = sigmoid(pre(j, count)), f = sigmoid(pre(H + j, count));
    const Vec<T> c_tilde = tanh(pre(2 * H + j, count)), o_t = sigmoid(pre(3 * H + j, count));
    i.store(y + j, count);
    f.store(y + H + j, count);
    c_tilde.store(y + 2 * H + j, count);
    o_t.store(y + 3 * H + j, count);
    const Vec<T> c = f * Vec<T>::loadu(c_prev + j, count) + i * c_tilde;
    c.store(c_new + j, count);
    if (!o.layer_norm) finish(s, o, H, P, b, j, count, c);
  });
}

// The input part of row b, elements [j, j+count): A_t, or LN(A_t; γ^x) from the row's moments
// (mean, rstd), + b.
template <typename T>
inline Vec<T> input_part(const ForwardStep<T>& s, const T* A, T mean, T rstd, int64_t j,
                         int64_t count) {
  Vec<T> x = Vec<T>::loadu(A + j, count);
  if (s.gamma_x != nullptr) {
    x = (x - Vec<T>(mean)) * Vec<T>(rstd) * Vec<T>::loadu(s.gamma_x + j, count);
  }
  return s.bias == nullptr ? x : x + Vec<T>::loadu(s.bias + j, count);
}

// Step t with layer norm, rows [b0, b1): a_t = LN(A_t; γ^x) (or A_t) + b + LN(u) γ^h into y,
// the gates, then k_t = tanh(LN(c'_t; γ^c, β^c)) once the row's moments are known. Normalising
// A_t here, where its row is read anyway, spares a pass over all T*B rows (a (T,B,4H) buffer
// written and read again, forward and backward).
template <typename T>
void layer_norm_rows(const ForwardStep<T>& s, const Options& o, int64_t H, int64_t P,
                     int64_t b0, int64_t b1) {
  const int64_t G = 4 * H;
  for (int64_t b = b0; b < b1; ++b) {
    const T* u = s.a + b * G;
    T mean, rstd;
    row_moments(u, G, o.eps, mean, rstd);
    s.mean_h[b] = mean;
    s.rstd_h[b] = rstd;
    const T* A = s.A + b * G;
    T mean_x = 0, rstd_x = 1;
    if (o.input_norm) {
      row_moments(A, G, o.eps, mean_x, rstd_x);
      s.mean_x[b] = mean_x;
      s.rstd_x[b] = rstd_x;
    }
    T* y = s.y + b * G;
    over_row<T>(G, [&](int64_t j, int64_t count) {
      const Vec<T> normal = (Vec<T>::loadu(u + j, count) - Vec<T>(mean)) * Vec<T>(rstd);
      (normal * Vec<T>::loadu(s.gamma_h + j, count) + input_part(s, A, mean_x, rstd_x, j, count))
          .store(y + j, count);
    });
    gates_forward(s, o, H, P, b);
    const T* c_new = s.c_new + b * H;
    row_moments(c_new, H, o.eps, mean, rstd);
    s.mean_c[b] = mean;
    s.rstd_c[b] = rstd;
    std::copy(c_new, c_new + H, s.u_c + b * H);
    over_row<T>(H, [&](int64_t j, int64_t count) {
      const Vec<T> normal = (Vec<T>::loadu(c_new + j, count) - Vec<T>(mean)) * Vec<T>(rstd);
      const Vec<T> x = normal * Vec<T>::loadu(s.gamma_c + j, count) +
                       Vec<T>::loadu(s.beta_c + j, count);
      finish(s, o, H, P, b, j, count, x);
    });
  }
}

// With a projection, rows [b0, b1): h'_t = W_hr m_t, then h_t = lerp(h'_t, h_{t-1}, d_t) with
// zoneout (h'_t in h_new), else h_t = h'_t.
template <typename T>
void project(const ForwardStep<T>& s, const Panels<T>& W_hr, T* h_new, int64_t P, int64_t b0,
             int64_t b1) {
  T* out = h_new == nullptr ? s.h : h_new;
  product(s.m + b0 * W_hr.K, b1 - b0, W_hr.K, W_hr, out + b0 * P, P);
  if (h_new == nullptr) return;
  over_range<T>(b0 * P, b1 * P, [&](int64_t j, int64_t count) {
    lerp(Vec<T>::loadu(h_new + j, count), Vec<T>::loadu(s.h_prev + j, count),
         Vec<T>::loadu(s.d + j, count))
        .store(s.h + j, count);
  });
}

std::vector<Tensor> lstm_forward(const Tensor& A, const Tensor& h0, const Tensor& c0,
                                 const Tensor& U, const Optional& mask, const Optional& d_in,
                                 const Optional& d_c_in, const Optional& gamma_x,
                                 const Optional& bias, const Optional& gamma_h,
                                 const Optional& gamma_c, const Optional& beta_c,
                                 const Optional& W_hr, double eps, bool save) {
  check_inputs(A, h0, c0, U, mask, d_in, d_c_in, gamma_x, bias, gamma_h, gamma_c, beta_c, W_hr);
  const int64_t T = A.size(0), B = A.size(1), H = c0.size(-1), P = h0.size(-1);
  const auto like = A.options();
  const Options o{gamma_h.has_value(), gamma_x.has_value(), d_in.has_value(),
                  d_c_in.has_value(), W_hr.has_value(), mask.has_value(), eps};
  const Tensor A_ = A.contiguous();
  // masks of every shape the cell makes ((T,B,P), (T,B,1), (T,1,1)) as (T,B,.) buffers
  const Optional d = o.zoneout_h ? Optional(every_step(*d_in, T, B, P)) : std::nullopt;
  const Optional d_c = o.zoneout_c ? Optional(every_step(*d_c_in, T, B, H)) : std::nullopt;
  const Optional m = o.dropout ? Optional(mask->expand({B, P}).contiguous()) : std::nullopt;
  Tensor S = rnnkit::reused({T + 1, B, P}, like);
  S[0].copy_(h0);
  // What backward reads, every step's (T of them), or without `save` (inference) one step's
  // scratch, rewritten at every step: memory the step keeps in cache. Likewise C: c_0..c_T, or
  // without `save` two slots taken in turn, c_T in the last one at the end (C[-1] as with save).
  const int64_t kept = save ? T : 1;
  auto c_slot = [save](int64_t t) { return save ? t : t % 2; };
  Tensor C = rnnkit::reused({save ? T + 1 : 2, B, H}, like);
  C[0].copy_(c0);
  Tensor Y = rnnkit::reused({kept, B, 4 * H}, like);
  Tensor K = at::empty({kept, B, H}, like);
  const bool own_M = o.proj || o.zoneout_h;
  Tensor M = own_M ? at::empty({kept, B, H}, like) : Tensor();
  Tensor V = o.dropout ? at::empty({kept, B, P}, like) : Tensor();
  Tensor C_new = o.zoneout_c ? at::empty({kept, B, H}, like) : Tensor();
  Tensor a = o.layer_norm ? Tensor() : at::empty({B, 4 * H}, like);  // U v_t
  std::vector<Tensor> norms;
  if (o.layer_norm) {
    norms = {rnnkit::reused({kept, B, 4 * H}, like), at::empty({kept, B, 1}, like),
             at::empty({kept, B, 1}, like), at::empty({kept, B, H}, like),
             at::empty({kept, B, 1}, like), at::empty({kept, B, 1}, like)};
  }
  if (o.input_norm) {  // the moments of A_t
    norms.push_back(at::empty({kept, B, 1}, like));
    norms.push_back(at::empty({kept, B, 1}, like));
  }
  Tensor h_scratch = o.proj && o.zoneout_h ? at::empty({B, P}, like) : Tensor();
  const Split split = Split::of(B);
  AT_DISPATCH_FLOATING_TYPES(A.scalar_type(), "rnnkit_lstm_forward", [&] {
    using T_ = scalar_t;
    const Panels<T_> U_panels = pack<T_>(U.t());  // v_t U^T
    const Panels<T_> W_hr_panels = o.proj ? pack<T_>(W_hr->t()) : Panels<T_>{};  // m_t W_hr^T
    T_* h_new = o.proj && o.zoneout_h ? h_scratch.data_ptr<T_>() : nullptr;  // h'_t
    const bool fetch_ahead = Ahead::pays(U_panels.bytes());
    auto step = [&](int64_t t) {  // step t's rows and buffers
      const int64_t slot = save ? t : 0;
      ForwardStep<T_> s{};
      // with layer norm U v_t is saved for backward: the product writes it there directly
      s.a = o.layer_norm ? step_of<T_>(norms[0], slot) : a.data_ptr<T_>();
      s.A = step_of<T_>(A_, t);
      s.y = step_of<T_>(Y, slot);
      s.c_prev = step_of<T_>(C, c_slot(t));
      s.c = step_of<T_>(C, c_slot(t + 1));
      s.c_new = o.zoneout_c ? step_of<T_>(C_new, slot) : s.c;
      s.k = step_of<T_>(K, slot);
      s.h_prev = step_of<T_>(S, t);
      s.h = step_of<T_>(S, t + 1);
      s.m = own_M ? step_of<T_>(M, slot) : s.h;
      if (o.layer_norm) {
        s.gamma_h = gamma_h->data_ptr<T_>();
        s.gamma_c = gamma_c->data_ptr<T_>();
        s.beta_c = beta_c->data_ptr<T_>();
        s.mean_h = step_of<T_>(norms[1], slot);
        s.rstd_h = step_of<T_>(norms[2], slot);
        s.u_c = step_of<T_>(norms[3], slot);
        s.mean_c = step_of<T_>(norms[4], slot);
        s.rstd_c = step_of<T_>(norms[5], slot);
      }
      s.bias = bias.has_value() ? bias->data_ptr<T_>() : nullptr;
      if (o.input_norm) {
        s.gamma_x = gamma_x->data_ptr<T_>();
        s.mean_x = step_of<T_>(norms[6], slot);
        s.rstd_x = step_of<T_>(norms[7], slot);
      }
      if (o.zoneout_h) s.d = step_of<T_>(*d, t);
      if (o.zoneout_c) s.d_c = step_of<T_>(*d_c, t);
      if (o.dropout) s.v = step_of<T_>(V, slot);
      s.A_next = fetch_ahead && t + 1 < T ? step_of<T_>(A_, t + 1) : nullptr;
      return s;
    };
    const T_* m_data = o.dropout ? m->data_ptr<T_>() : nullptr;
    // rows [b0, b1) of step s: v_t = m * h_{t-1}; U v_t (panels [q0, q1)); the gates (or layer
    // norm) and the projection
    auto dropped = [&](const ForwardStep<T_>& s, int64_t b0, int64_t b1) {
      multiply(s.h_prev, m_data, s.v, b0 * P, b1 * P);
    };
    auto product_of = [&](const ForwardStep<T_>& s, int64_t b0, int64_t b1, int64_t q0,
                          int64_t q1) {
      const T_* v = o.dropout ? s.v : s.h_prev;
      product(v + b0 * P, b1 - b0, P, U_panels, s.a + b0 * 4 * H, 4 * H, q0, q1,
              Ahead::rows(s.A_next, b0, b1, 4 * H));
    };
    auto rest = [&](const ForwardStep<T_>& s, int64_t b0, int64_t b1) {
      if (o.layer_norm) {
        layer_norm_rows(s, o, H, P, b0, b1);
      } else {
        for (int64_t b = b0; b < b1; ++b) {
          const bool next = !fetch_ahead && b + 1 < b1;  // (else A_t came with the product)
          gates_forward(s, o, H, P, b, next ? s.A + (b + 1) * 4 * H : nullptr);
        }
      }
      if (o.proj) project(s, W_hr_panels, h_new, P, b0, b1);
    };
    run_steps(split, B, T, false, [&](int64_t t) {
      const ForwardStep<T_> s = step(t);
      return std::make_tuple(
          rows_phase([&, s](int64_t b0, int64_t b1) { dropped(s, b0, b1); }, o.dropout),
          panels_phase(
              [&, s](int64_t b0, int64_t b1, int64_t q0, int64_t q1) {
                product_of(s, b0, b1, q0, q1);
              },
              U_panels.blocks),
          rows_phase([&, s](int64_t b0, int64_t b1) { rest(s, b0, b1); }));
    });
  });
  if (c_slot(T) == 0) C[1].copy_(C[0]);
  std::vector<Tensor> outputs{S, C, Y, K};
  if (own_M) outputs.push_back(M);
  if (o.dropout) outputs.push_back(V);
  for (auto& n : norms) outputs.push_back(n);
  return outputs;
}

// ---------------------------------------------------------------------------------------------
// Backward: the element-wise work of step t, from dm_t = dL/dm_t and e_t = dL/dc_t:
//   da_o = dm k o (1 - o);  dk^ = dm o (1 - k^2)
//   dc'_t = dk^, or LN's backward of it (adding this step's shares of dγ^c, dβ^c)
//           + e_t (1 - d^c_t)
//   [da_i, da_f, da_c] = dc'_t [c~ i (1 - i), c_{t-1} f (1 - f), i (1 - c~^2)]
//   e_{t-1} = dc'_t f + e_t d^c_t + dL/dc_{t-1} from outside        (in place of e_t)
//   du_t = da_t, or LN's backward of da_t γ^h (adding this step's share of dγ^h)
//   dA_t = da_t, or LN's backward of da_t through LN(A_t; γ^x) (and the shares of dγ^x, db)
//   db = the sum of dA_t over every step and row, without γ^x (after the loop)

template <typename T>
struct BackwardStep {
  const T* y;        // (B,4H) i | f | c~ | o
  const T* k;        // (B,H)
  const T* c_prev;   // (B,H) c_{t-1}
  const T* dm;       // (B,H)
  T* e;              // (B,H) e_t in, e_{t-1} out
  const T* d_c;      // (B,H) or null
  const T* dC_prev;  // (B,H) dL/dc_{t-1} from outside
  T* dA;             // (B,4H)
  T* du;             // (B,4H) du_t = dL/d(U v_t) (dA itself without layer norm)
  T* dk;             // (B,H) dk^ with layer norm
  const T* u_h;      // layer norm's saved rows and statistics
  const T* mean_h;
  const T* rstd_h;
  const T* gamma_h;
  const T* u_c;
  const T* mean_c;
  const T* rstd_c;
  const T* gamma_c;
  const T* A;        // (B,4H) A_t, with the input's layer norm
  const T* mean_x;
  const T* rstd_x;
  const T* gamma_x;  // or null
  bool bias;         // whether LN(A_t) has a bias
  const T* g;        // (B,P) g_t = dL/dh_t
  T* g_prev;         // (B,P) g_{t-1}, out
  const T* d;        // (B,P) zoneout of h, or null
  const T* d_out;    // (B,P) dL/dh_{t-1} from the output
  T* g_new;          // (B,P) g'_t (dH'_t, saved for dW_hr, with a projection)
};

// The gates' gradients and e_{t-1} from dc'_t (before adding e_t's share), elements [j, j+count).
template <typename T>
inline void gates_backward(const BackwardStep<T>& s, int64_t H, int64_t b, int64_t j,
                           int64_t count, Vec<T> dc) {
  const T* y = s.y + b * 4 * H;
  T* dA = s.dA + b * 4 * H;
  const Vec<T> one(1);
  const Vec<T> e = Vec<T>::loadu(s.e + b * H + j, count);
  if (s.d_c != nullptr) {
    const Vec<T> d_c = Vec<T>::loadu(s.d_c + b * H + j, count);
    dc = dc + e * (one - d_c);
  } else {
    dc = dc + e;
  }
  const Vec<T> i = Vec<T>::loadu(y + j, count), f = Vec<T>::loadu(y + H + j, count);
  const Vec<T> c_tilde = Vec<T>::loadu(y + 2 * H + j, count);
  (dc * c_tilde * i * (one - i)).store(dA + j, count);
  (dc * Vec<T>::loadu(s.c_prev + b * H + j, count) * f * (one - f)).store(dA + H + j, count);
  (dc * i * (one - c_tilde * c_tilde)).store(dA + 2 * H + j, count);
  Vec<T> e_prev = dc * f + Vec<T>::loadu(s.dC_prev + b * H + j, count);
  if (s.d_c != nullptr) e_prev = e_prev + e * Vec<T>::loadu(s.d_c + b * H + j, count);
  e_prev.store(s.e + b * H + j, count);
}

// da_o, dk^ and (without layer norm) the rest of step t's gradients for row b.
template <typename T>
inline void units_backward(const BackwardStep<T>& s, bool layer_norm, int64_t H, int64_t b) {
  const Vec<T> one(1);
  const T* y = s.y + b * 4 * H;
  const T* k = s.k + b * H;
  const T* dm = s.dm + b * H;
  T* dA = s.dA + b * 4 * H;
  over_row<T>(H, [&](int64_t j, int64_t count) {
    const Vec<T> o = Vec<T>::loadu(y + 3 * H + j, count), k_t = Vec<T>::loadu(k + j, count);
    const Vec<T> dm_t = Vec<T>::loadu(dm + j, count);
    (dm_t * k_t * o * (one - o)).store(dA + 3 * H + j, count);
    const Vec<T> dk = dm_t * o * (one - k_t * k_t);
    if (layer_norm) {
      dk.store(s.dk + b * H + j, count);
    } else {
      gates_backward(s, H, b, j, count, dk);
    }
  });
}

// Step t's gradients with layer norm, rows [b0, b1): dc'_t through LN(c'_t), then du_t
// through LN(U v_t) and dA_t through LN(A_t), each once the row's sums are known; the gains'
// gradients are summed over the steps into the batch row's own row of `d_gains` (GAINS: 4H for
// γ^h, H for γ^c, H for β^c, then 4H for γ^x, 4H for b): one per batch row, not per thread, so
// that the sums do not depend on how many threads ran (a run resumed on another thread count
// continues exactly).
constexpr int64_t GAINS = 14;  // times H

template <typename T>
void layer_norm_rows_backward(const BackwardStep<T>& s, int64_t H, T* d_gains, int64_t b0,
                              int64_t b1) {
  const int64_t G = 4 * H;
  for (int64_t b = b0; b < b1; ++b) {
    T* d_gamma_h = d_gains + b * GAINS * H;
    T* d_gamma_c = d_gamma_h + G;
    T* d_beta_c = d_gamma_c + H;
    T* d_gamma_x = d_beta_c + H;
    T* d_bias = s.bias ? d_gamma_x + G : nullptr;
    units_backward(s, true, H, b);
    T* dA = s.dA + b * G;
    T* dc = dA + 2 * H;  // dc'_t, in dA's c block for the moment
    layer_norm_row_backward(s.dk + b * H, s.u_c + b * H, s.mean_c[b], s.rstd_c[b], s.gamma_c,
                            H, dc, d_gamma_c, d_beta_c);
    over_row<T>(H, [&](int64_t j, int64_t count) {
      gates_backward(s, H, b, j, count, Vec<T>::loadu(dc + j, count));
    });
    layer_norm_row_backward(dA, s.u_h + b * G, s.mean_h[b], s.rstd_h[b], s.gamma_h, G,
                            s.du + b * G, d_gamma_h, static_cast<T*>(nullptr));
    if (s.gamma_x != nullptr) {  // da_t, read above, becomes dA_t in place
      layer_norm_row_backward(dA, s.A + b * G, s.mean_x[b], s.rstd_x[b], s.gamma_x, G, dA,
                              d_gamma_x, d_bias);
    }
  }
}

// g_{t-1} = (du_t U) * m + g_t d_t + dL/dh_{t-1} from the output, for the elements
// [begin, end) of these (B, P) buffers (du_t U already in g_prev there).
template <typename T>
inline void state_backward(T* g_prev, const T* g, const T* m, const T* d, const T* d_out,
                           int64_t begin, int64_t end) {
  over_range<T>(begin, end, [&](int64_t j, int64_t count) {
    Vec<T> x = Vec<T>::loadu(g_prev + j, count);
    if (m != nullptr) x = x * Vec<T>::loadu(m + j, count);
    if (d != nullptr) x = x + Vec<T>::loadu(g + j, count) * Vec<T>::loadu(d + j, count);
    (x + Vec<T>::loadu(d_out + j, count)).store(g_prev + j, count);
  });
}

// dm_t = dL/dm_t for rows [b0, b1) from g_t = dL/dh_t: g'_t = g_t (1 - d_t) with zoneout
// (else g_t), into g_new; with a projection (g_new then dH'_t, saved for dW_hr), g'_t W_hr.
template <typename T>
void dm_rows(const T* g, const T* d, const Panels<T>& W_hr, T* g_new, T* dm, int64_t P,
             int64_t b0, int64_t b1) {
  over_range<T>(b0 * P, b1 * P, [&](int64_t j, int64_t count) {
    const Vec<T> g_j = Vec<T>::loadu(g + j, count);
    (d == nullptr ? g_j : g_j * (Vec<T>(1) - Vec<T>::loadu(d + j, count))).store(g_new + j, count);
  });
  product(g_new + b0 * P, b1 - b0, P, W_hr, dm + b0 * W_hr.width, W_hr.width);
}

std::vector<Tensor> lstm_backward(const Tensor& A, const Tensor& h0, const Tensor& U,
                                  const Optional& mask, const Optional& d_in,
                                  const Optional& d_c_in, const Optional& gamma_x,
                                  const Optional& bias, const Optional& gamma_h,
                                  const Optional& gamma_c, const Optional& beta_c,
                                  const Optional& W_hr, at::TensorList saved,
                                  const Tensor& dS, const Tensor& dC) {
  const bool layer_norm = gamma_h.has_value(), input_norm = gamma_x.has_value();
  const bool zoneout_h = d_in.has_value();
  const bool zoneout_c = d_c_in.has_value(), proj = W_hr.has_value(), dropout = mask.has_value();
  const bool own_M = proj || zoneout_h;
  int64_t next = 0;
  const Tensor S = saved[next++], C = saved[next++], Y = saved[next++], K = saved[next++];
  const Tensor M = own_M ? saved[next++] : S.narrow(0, 1, S.size(0) - 1);
  const Tensor V = dropout ? saved[next++] : S.narrow(0, 0, S.size(0) - 1);
  std::vector<Tensor> norms;
  if (layer_norm) norms.assign(saved.begin() + next, saved.end());  // 6, or 8 with γ^x
  const int64_t T = K.size(0), B = K.size(1), H = K.size(2), P = h0.size(-1);
  TORCH_CHECK(T == S.size(0) - 1, "rnnkit::lstm_backward: the forward was run with save=False "
              "(one step kept), so it has no backward: run it with save=True");
  const Optional d = zoneout_h ? Optional(every_step(*d_in, T, B, P)) : std::nullopt;
  const Optional d_c = zoneout_c ? Optional(every_step(*d_c_in, T, B, H)) : std::nullopt;
  const Optional m = dropout ? Optional(mask->expand({B, P}).contiguous()) : std::nullopt;
  const Tensor dS_ = dS.contiguous(), dC_ = dC.contiguous();
  Tensor dA = rnnkit::reused(Y.sizes(), Y.options());
  Tensor dU_rows = layer_norm ? rnnkit::reused(Y.sizes(), Y.options()) : dA;  // du_t, every step
  Tensor DK = layer_norm ? at::empty({B, H}, Y.options()) : Tensor();  // dk^ of one step
  // the gains' gradients, a row per batch row: [γ^h (4H) | γ^c (H) | β^c (H) | γ^x (4H) | b (4H)]
  Tensor d_gains = at::zeros({layer_norm ? B : 0, GAINS * H}, Y.options());
  const Tensor A_ = input_norm ? A.contiguous() : Tensor();
  Tensor dH_new = proj ? at::empty({T, B, P}, Y.options()) : Tensor();
  // dm_t, when it is not g_t: g_t (1 - d_t) with zoneout, times W_hr with a projection
  const bool own_dm = zoneout_h || proj;
  Tensor DM = own_dm ? at::empty({B, H}, Y.options()) : Tensor();
  Tensor g = dS_[T].clone();
  Tensor g_prev = at::empty_like(g);
  Tensor e = dC_[T].clone();
  const Split split = Split::of(B);
  AT_DISPATCH_FLOATING_TYPES(Y.scalar_type(), "rnnkit_lstm_backward", [&] {
    using T_ = scalar_t;
    const Panels<T_> U_panels = pack<T_>(U);  // du_t U
    const Panels<T_> W_hr_panels = proj ? pack<T_>(*W_hr) : Panels<T_>{};  // g'_t W_hr
    T_* dm_data = own_dm ? DM.data_ptr<T_>() : nullptr;
    const T_* m_data = dropout ? m->data_ptr<T_>() : nullptr;
    T_* gains = layer_norm ? d_gains.data_ptr<T_>() : nullptr;
    // dL/dh of S's entry i (h_i) in one of two buffers taken in turn, that of h_T in g
    auto g_of = [&](int64_t i) { return ((T - i) % 2 == 0 ? g : g_prev).data_ptr<T_>(); };
    auto step = [&](int64_t t) {  // step t's rows and buffers
      BackwardStep<T_> s{};
      s.y = step_of<T_>(Y, t);
      s.k = step_of<T_>(K, t);
      s.c_prev = step_of<T_>(C, t);
      s.g = g_of(t + 1);
      s.g_prev = g_of(t);
      s.dm = own_dm ? dm_data : s.g;
      s.e = e.data_ptr<T_>();
      s.d_c = zoneout_c ? step_of<T_>(*d_c, t) : nullptr;
      s.dC_prev = step_of<T_>(dC_, t);
      s.dA = step_of<T_>(dA, t);
      s.du = step_of<T_>(dU_rows, t);
      if (layer_norm) {
        s.dk = DK.data_ptr<T_>();
        s.u_h = step_of<T_>(norms[0], t);
        s.mean_h = step_of<T_>(norms[1], t);
        s.rstd_h = step_of<T_>(norms[2], t);
        s.gamma_h = gamma_h->data_ptr<T_>();
        s.u_c = step_of<T_>(norms[3], t);
        s.mean_c = step_of<T_>(norms[4], t);
        s.rstd_c = step_of<T_>(norms[5], t);
        s.gamma_c = gamma_c->data_ptr<T_>();
      }
      if (input_norm) {
        s.A = step_of<T_>(A_, t);
        s.mean_x = step_of<T_>(norms[6], t);
        s.rstd_x = step_of<T_>(norms[7], t);
        s.gamma_x = gamma_x->data_ptr<T_>();
        s.bias = bias.has_value();
      }
      s.d = zoneout_h ? step_of<T_>(*d, t) : nullptr;
      s.d_out = step_of<T_>(dS_, t);
      s.g_new = proj ? step_of<T_>(dH_new, t) : dm_data;
      return s;
    };
    // rows [b0, b1) of step s: dm_t, then the gates' gradients; g_{t-1} = (du_t U) * m + g_t d_t
    // + the output's (its columns of panels [q0, q1))
    auto gradients = [&](const BackwardStep<T_>& s, int64_t b0, int64_t b1) {
      if (own_dm) dm_rows(s.g, s.d, W_hr_panels, s.g_new, dm_data, P, b0, b1);
      if (layer_norm) {
        layer_norm_rows_backward(s, H, gains, b0, b1);
      } else {
        for (int64_t b = b0; b < b1; ++b) units_backward(s, false, H, b);
      }
    };
    auto state = [&](const BackwardStep<T_>& s, int64_t b0, int64_t b1, int64_t q0, int64_t q1) {
      product(s.du + b0 * 4 * H, b1 - b0, 4 * H, U_panels, s.g_prev + b0 * P, P, q0, q1);
      const int64_t j0 = q0 * PANEL<T_>, j1 = std::min(P, q1 * PANEL<T_>);
      for (int64_t b = b0; b < b1; ++b) {
        state_backward(s.g_prev, s.g, m_data, s.d, s.d_out, b * P + j0, b * P + j1);
      }
    };
    run_steps(split, B, T, true, [&](int64_t t) {
      const BackwardStep<T_> s = step(t);
      return std::make_tuple(
          rows_phase([&, s](int64_t b0, int64_t b1) { gradients(s, b0, b1); }),
          panels_phase(
              [&, s](int64_t b0, int64_t b1, int64_t q0, int64_t q1) { state(s, b0, b1, q0, q1); },
              U_panels.blocks));
    });
  });
  const Tensor dh0 = T % 2 == 0 ? g : g_prev;  // g_of(0)
  auto over_steps = [](const Tensor& a, const Tensor& b) {  // a^T b over all T*B rows
    return at::mm(a.flatten(0, 1).t(), b.flatten(0, 1));
  };
  std::vector<Tensor> grads{dA, dh0, e, over_steps(dU_rows, V)};
  const Tensor total = layer_norm ? rnnkit::sum_in_row_order(d_gains) : Tensor();
  // copies: an op's outputs may not be views of one another
  if (input_norm) grads.push_back(total.narrow(0, 6 * H, 4 * H).clone());
  if (bias.has_value()) {  // db: through LN(A_t), or dA_t itself summed over every step and row
    grads.push_back(input_norm ? total.narrow(0, 10 * H, 4 * H).clone() : dA.sum({0, 1}));
  }
  if (layer_norm) {
    grads.push_back(total.narrow(0, 0, 4 * H).clone());
    grads.push_back(total.narrow(0, 4 * H, H).clone());
    grads.push_back(total.narrow(0, 5 * H, H).clone());
  }
  if (proj) grads.push_back(over_steps(dH_new, M));
  return grads;
}

}  // namespace

TORCH_LIBRARY(rnnkit_cpp, library) {
  library.def(
      "lstm_forward(Tensor A, Tensor h0, Tensor c0, Tensor U, Tensor? m, Tensor? d, Tensor? d_c, "
      "Tensor? gamma_x, Tensor? bias, Tensor? gamma_h, Tensor? gamma_c, Tensor? beta_c, "
      "Tensor? W_hr, float eps, bool save) -> Tensor[]");
  library.def(
      "lstm_backward(Tensor A, Tensor h0, Tensor U, Tensor? m, Tensor? d, Tensor? d_c, "
      "Tensor? gamma_x, Tensor? bias, Tensor? gamma_h, Tensor? gamma_c, Tensor? beta_c, "
      "Tensor? W_hr, Tensor[] saved, Tensor dS, Tensor dC) -> Tensor[]");
}

TORCH_LIBRARY_IMPL(rnnkit_cpp, CPU, library) {
  library.impl("lstm_forward", &lstm_forward);
  library.impl("lstm_backward", &lstm_backward);
}
