// The vanilla RNN's time loops in C++: the same computation as backends/fused/rnn.py's Python
// forward and backward (whose docstring has the equations, with layer norm, recurrent dropout,
// zoneout and lengths), the same inputs and the same outputs, so either backward reads either
// forward. The design is lstm.cpp's and gru.cpp's: each thread whole rows of the batch, through
// the whole sequence in one parallel region (rows.h's run_steps).
//
//   forward:  h'_t = f(A_t + U v_t), or f(A_t + LN(U v_t) γ);  h_t = lerp(h'_t, h_{t-1}, d_t)
//             h_t = h_{t-1} on a padded step (mask 0);  f = tanh or relu
//   backward: da_t = g_t (1 - d_t) f'(h'_t) (0 on padding);  du_t = da_t, or LN's backward
//             g_{t-1} = (du_t U) m + g_t d_t  (d_t = 1 on padding)
//
// Storage: A (T,B,H); S = h_0..h_T (T+1,B,H); H_new = h'_t (T,B,H) with zoneout (else S[1:]).

#include <ATen/ATen.h>
#include <torch/library.h>

#include "checks.h"
#include "gemm.h"
#include "rows.h"

#include <optional>
#include <tuple>
#include <vector>

namespace {

using at::Tensor;
using Optional = std::optional<Tensor>;
using namespace rnnkit;  // rows.h, gemm.h, checks.h

// Row b of step t, each pointer at row 0 of its (B, .) buffer; null where an option is off.
template <typename T>
struct Step {
  const T* A;        // (B,H) A_t
  const T* mask;     // (B)
  const T* h_prev;   // (B,H)
  const T* m;        // (B,H) recurrent dropout's mask
  T* v;              // (B,H)
  T* u;              // (B,H) U v_t (with layer norm, the saved copy)
  const T* gamma_h;  // (H)
  T* mean;           // (B)
  T* rstd;
  T* h_new;          // (B,H) h'_t (may be h)
  const T* d;        // (B,H) zoneout
  T* h;              // (B,H)
  bool relu;
};

// Row b's h'_t and h_t after its product U v_t. Compiled once (noinline), as gru.cpp says why:
// the same bits whichever path a step takes.
template <typename T>
__attribute__((noinline)) void update(const Step<T>& s, int64_t H, double eps, int64_t b) {
  const T* u = s.u + b * H;
  T mean, rstd;
  std::tie(mean, rstd) = recurrent_moments(u, H, s.gamma_h, eps, s.mean, s.rstd, b);
  const T* A = s.A + b * H;
  const T* h_prev = s.h_prev + b * H;
  const bool padding = s.mask != nullptr && s.mask[b] == T(0);
  over_row<T>(H, [&](int64_t j, int64_t count) {
    const Vec<T> a = recurrent(u, s.gamma_h, mean, rstd, j, count) + Vec<T>::loadu(A + j, count);
    const Vec<T> h_new = s.relu ? at::vec::maximum(a, Vec<T>(0)) : tanh(a);
    h_new.store(s.h_new + b * H + j, count);
    const Vec<T> before = Vec<T>::loadu(h_prev + j, count);
    Vec<T> h = h_new;
    if (s.d != nullptr) h = lerp(h_new, before, Vec<T>::loadu(s.d + b * H + j, count));
    (padding ? before : h).store(s.h + b * H + j, count);
  });
}

std::vector<Tensor> rnn_forward(const Tensor& A, const Tensor& h0, const Tensor& U,
                                const Optional& mask_in, const Optional& m_in,
                                const Optional& d_in, const Optional& gamma_h, bool relu,
                                double eps) {
  check_inputs("rnnkit::rnn", 1, A, h0, U, mask_in, m_in, d_in, gamma_h);
  const int64_t T = A.size(0), B = A.size(1), H = h0.size(1);
  const auto like = A.options();
  const bool layer_norm = gamma_h.has_value(), dropout = m_in.has_value();
  const bool zoneout = d_in.has_value();
  const Tensor A_ = A.contiguous();
  const LaidOut in = laid_out(T, B, H, mask_in, m_in, d_in, gamma_h);
  const Optional &mask = in.mask, &m = in.m, &d = in.d, &gains = in.gamma_h;
  Tensor S = at::empty({T + 1, B, H}, like);
  S[0].copy_(h0);
  Tensor H_new = zoneout ? at::empty({T, B, H}, like) : Tensor();
  Tensor V = dropout ? at::empty({T, B, H}, like) : Tensor();
  std::vector<Tensor> norms;
  if (layer_norm) {
    norms = {at::empty({T, B, H}, like), at::empty({T, B, 1}, like), at::empty({T, B, 1}, like)};
  }
  Tensor u = layer_norm ? Tensor() : at::empty({B, H}, like);
  const Split split = Split::of(B);
  AT_DISPATCH_FLOATING_TYPES(A.scalar_type(), "rnnkit_rnn_forward", [&] {
    using T_ = scalar_t;
    const Panels<T_> U_T = pack<T_>(U.t());  // v_t U^T
    run_steps(split, B, T, false, [&](int64_t t) {
      Step<T_> s{};
      s.A = step_of<T_>(A_, t);
      s.mask = mask.has_value() ? step_of<T_>(*mask, t) : nullptr;
      s.h_prev = step_of<T_>(S, t);
      s.m = dropout ? m->data_ptr<T_>() : nullptr;
      s.v = dropout ? step_of<T_>(V, t) : step_of<T_>(S, t);
      s.u = layer_norm ? step_of<T_>(norms[0], t) : u.data_ptr<T_>();
      if (layer_norm) {
        s.gamma_h = gains->data_ptr<T_>();
        s.mean = step_of<T_>(norms[1], t);
        s.rstd = step_of<T_>(norms[2], t);
      }
      s.h = step_of<T_>(S, t + 1);
      s.h_new = zoneout ? step_of<T_>(H_new, t) : s.h;
      s.d = zoneout ? step_of<T_>(*d, t) : nullptr;
      s.relu = relu;
      auto dropped = [&, s](int64_t b0, int64_t b1) {  // v_t = m * h_{t-1} for rows [b0, b1)
        multiply(s.h_prev, s.m, s.v, b0 * H, b1 * H);
      };
      auto times_U = [&, s](int64_t b0, int64_t b1, int64_t q0, int64_t q1) {
        product(s.v + b0 * H, b1 - b0, H, U_T, s.u + b0 * H, H, q0, q1);
      };
      auto updates = [&, s](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) update(s, H, eps, b);
      };
      return std::make_tuple(rows_phase(dropped, dropout), panels_phase(times_U, U_T.blocks),
                             rows_phase(updates));
    });
  });
  std::vector<Tensor> outputs{S};
  if (zoneout) outputs.push_back(H_new);
  if (dropout) outputs.push_back(V);
  for (auto& x : norms) outputs.push_back(x);
  return outputs;
}

template <typename T>
struct BackStep {
  const T* h_new;    // (B,H) h'_t
  const T* mask;     // (B)
  const T* m;        // (B,H)
  const T* d;        // (B,H)
  const T* d_out;    // (B,H) dL/dh_t from the output at t
  T* g;              // (B,H) g_t
  T* g_prev;         // (B,H) g_{t-1}, first du_t U
  T* dA;             // (B,H)
  T* du;             // (B,H) with layer norm (else dA)
  const T* u;
  const T* mean;
  const T* rstd;
  const T* gamma_h;
  T* d_gains;        // (B,H)
  bool relu;
};

// g_t, da_t and du_t for row b.
template <typename T>
__attribute__((noinline)) void gradients(const BackStep<T>& s, int64_t H, int64_t b) {
  const Vec<T> one(1), zero(0);
  const bool padding = s.mask != nullptr && s.mask[b] == T(0);
  T* g = s.g + b * H;
  T* dA = s.dA + b * H;
  over_row<T>(H, [&](int64_t j, int64_t count) {
    const Vec<T> g_t = Vec<T>::loadu(g + j, count) + Vec<T>::loadu(s.d_out + b * H + j, count);
    g_t.store(g + j, count);
    const Vec<T> h_new = Vec<T>::loadu(s.h_new + b * H + j, count);
    Vec<T> slope = s.relu ? Vec<T>::blendv(zero, one, h_new > zero) : one - h_new * h_new;
    if (s.d != nullptr) slope = slope * (one - Vec<T>::loadu(s.d + b * H + j, count));
    (padding ? zero : g_t * slope).store(dA + j, count);
  });
  if (s.gamma_h != nullptr) {
    layer_norm_row_backward(dA, s.u + b * H, s.mean[b], s.rstd[b], s.gamma_h, H, s.du + b * H,
                            s.d_gains + b * H, (T*)nullptr);
  }
}

// g_{t-1} = (du_t U) m + g_t d_t (d_t = 1 on padding) for row b, du_t U already in g_prev.
template <typename T>
__attribute__((noinline)) void carry(const BackStep<T>& s, int64_t H, int64_t b) {
  const bool padding = s.mask != nullptr && s.mask[b] == T(0);
  over_row<T>(H, [&](int64_t j, int64_t count) {
    const int64_t at = b * H + j;
    Vec<T> g_prev = Vec<T>::loadu(s.g_prev + at, count);
    if (s.m != nullptr) g_prev = g_prev * Vec<T>::loadu(s.m + at, count);
    const Vec<T> g_t = Vec<T>::loadu(s.g + at, count);
    if (padding) {
      g_prev = g_prev + g_t;
    } else if (s.d != nullptr) {
      g_prev = g_prev + g_t * Vec<T>::loadu(s.d + at, count);
    }
    g_prev.store(s.g_prev + at, count);
  });
}

std::vector<Tensor> rnn_backward(const Tensor& A, const Tensor& h0, const Tensor& U,
                                 const Optional& mask_in, const Optional& m_in,
                                 const Optional& d_in, const Optional& gamma_h, bool relu,
                                 at::TensorList saved, const Tensor& dS) {
  check_inputs("rnnkit::rnn", 1, A, h0, U, mask_in, m_in, d_in, gamma_h);
  const int64_t T = A.size(0), B = A.size(1), H = h0.size(1);
  const bool layer_norm = gamma_h.has_value(), dropout = m_in.has_value();
  const bool zoneout = d_in.has_value();
  const size_t expected = 1 + (zoneout ? 1 : 0) + (dropout ? 1 : 0) + (layer_norm ? 3 : 0);
  TORCH_CHECK(saved.size() == expected, "rnnkit::rnn_backward: expected ", expected,
              " saved buffers from the forward, got ", saved.size());
  TORCH_CHECK(dS.sizes() == at::IntArrayRef({T + 1, B, H}),
              "rnnkit::rnn_backward: dS must be (T+1,B,H)");
  const auto like = A.options();
  size_t next = 0;
  const Tensor S = saved[next++].contiguous();
  const Tensor H_new = zoneout ? saved[next++].contiguous() : S.narrow(0, 1, T);
  const Tensor V = dropout ? saved[next++].contiguous() : S.narrow(0, 0, T);
  std::vector<Tensor> norms;
  for (; next < saved.size(); ++next) norms.push_back(saved[next].contiguous());
  const Tensor dS_ = dS.contiguous();
  const LaidOut in = laid_out(T, B, H, mask_in, m_in, d_in, gamma_h);
  const Optional &mask = in.mask, &m = in.m, &d = in.d, &gains = in.gamma_h;
  Tensor dA = at::empty({T, B, H}, like);
  Tensor du_rows = layer_norm ? at::empty({T, B, H}, like) : dA;
  Tensor d_gains = layer_norm ? at::zeros({B, H}, like) : Tensor();
  Tensor g = at::zeros({B, H}, like), g_prev = at::empty({B, H}, like);
  const Split split = Split::of(B);
  AT_DISPATCH_FLOATING_TYPES(A.scalar_type(), "rnnkit_rnn_backward", [&] {
    using T_ = scalar_t;
    const Panels<T_> U_panels = pack<T_>(U);  // du_t U
    // dL/dh of S's entry i (h_i) in one of two buffers taken in turn, that of h_T in g
    auto g_of = [&](int64_t i) { return ((T - i) % 2 == 0 ? g : g_prev).data_ptr<T_>(); };
    run_steps(split, B, T, true, [&](int64_t t) {
      BackStep<T_> s{};
      s.h_new = step_of<T_>(H_new, t);
      s.mask = mask.has_value() ? step_of<T_>(*mask, t) : nullptr;
      s.m = dropout ? m->data_ptr<T_>() : nullptr;
      s.d = zoneout ? step_of<T_>(*d, t) : nullptr;
      s.d_out = step_of<T_>(dS_, t + 1);
      s.g = g_of(t + 1);
      s.g_prev = g_of(t);
      s.dA = step_of<T_>(dA, t);
      s.du = step_of<T_>(du_rows, t);
      if (layer_norm) {
        s.u = step_of<T_>(norms[0], t);
        s.mean = step_of<T_>(norms[1], t);
        s.rstd = step_of<T_>(norms[2], t);
        s.gamma_h = gains->data_ptr<T_>();
        s.d_gains = d_gains.data_ptr<T_>();
      }
      s.relu = relu;
      auto all_gradients = [&, s](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) gradients(s, H, b);
      };
      auto times_U = [&, s](int64_t b0, int64_t b1, int64_t q0, int64_t q1) {
        product(s.du + b0 * H, b1 - b0, H, U_panels, s.g_prev + b0 * H, H, q0, q1);
      };
      auto carries = [&, s](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) carry(s, H, b);
      };
      return std::make_tuple(rows_phase(all_gradients),
                             panels_phase(times_U, U_panels.blocks), rows_phase(carries));
    });
  });
  const Tensor dh0 = T % 2 == 0 ? g : g_prev;  // g_of(0)
  std::vector<Tensor> grads{dA, dh0 + dS_[0], at::mm(du_rows.flatten(0, 1).t(), V.flatten(0, 1))};
  if (layer_norm) {
    grads.push_back(sum_in_row_order(d_gains));
  }
  return grads;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(rnnkit_cpp, library) {
  library.def(
      "rnn_forward(Tensor A, Tensor h0, Tensor U, Tensor? mask, Tensor? m, Tensor? d, "
      "Tensor? gamma_h, bool relu, float eps) -> Tensor[]");
  library.def(
      "rnn_backward(Tensor A, Tensor h0, Tensor U, Tensor? mask, Tensor? m, Tensor? d, "
      "Tensor? gamma_h, bool relu, Tensor[] saved, Tensor dS) -> Tensor[]");
}

TORCH_LIBRARY_IMPL(rnnkit_cpp, CPU, library) {
  library.impl("rnn_forward", &rnn_forward);
  library.impl("rnn_backward", &rnn_backward);
}
