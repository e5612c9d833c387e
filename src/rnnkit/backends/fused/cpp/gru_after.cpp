// GRU(reset="after")'s (cuDNN's placement) time loops in C++: the same computation as
// backends/fused/gru_after.py's Python forward and backward (whose docstring has the equations,
// with layer norm, recurrent dropout, zoneout and lengths), the same inputs and the same
// outputs, so either backward reads either forward. The design is gru.cpp's, with one product
// with U per step each way: each thread whole rows of the batch through the whole sequence in
// one parallel region (rows.h's run_steps), and the per-row functions are compiled once
// (noinline, as gru.cpp says why).
//
//   G_t = U v_t, or LN(U v_t) γ;  [r_t, z_t] = σ(A_rz,t + G_rz,t);  q_t = G_h,t + b_hn
//   n_t = tanh(A_h,t + r_t q_t);  h'_t = lerp(h_{t-1}, n_t, z_t);  h_t = lerp(h'_t, h_{t-1}, d_t)
//
// Saved as the Python loop saves them: Q2 = 2 q_t (its tanh takes 2a), N = n_t.

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

template <typename T>
struct AfterStep {
  const T* A;        // (B,3H) A_t
  const T* mask;     // (B)
  const T* h_prev;   // (B,H)
  const T* m;        // (B,H) recurrent dropout's mask
  T* v;              // (B,H)
  T* u;              // (B,3H) U v_t (with layer norm, the saved copy)
  const T* gamma_h;  // (3H)
  T* mean;           // (B)
  T* rstd;
  const T* b_hn;     // (H) or null
  T* rz;             // (B,2H)
  T* q2;             // (B,H) 2 q_t
  T* n;              // (B,H)
  const T* d;        // (B,H) zoneout
  T* h;              // (B,H)
};

// Row b of step t after its product U v_t.
template <typename T>
__attribute__((noinline)) void after_update(const AfterStep<T>& s, int64_t H, double eps,
                                            int64_t b) {
  const T* u = s.u + b * 3 * H;
  T mean, rstd;
  std::tie(mean, rstd) = recurrent_moments(u, 3 * H, s.gamma_h, eps, s.mean, s.rstd, b);
  const T* A = s.A + b * 3 * H;
  T* rz = s.rz + b * 2 * H;
  reset_and_update(u, s.gamma_h, mean, rstd, A, rz, H);
  const Vec<T> inside(s.mask == nullptr ? T(1) : s.mask[b]);
  const T* gamma = s.gamma_h == nullptr ? nullptr : s.gamma_h + 2 * H;
  const T* h_prev = s.h_prev + b * H;
  over_row<T>(H, [&](int64_t j, int64_t count) {
    Vec<T> z = Vec<T>::loadu(rz + H + j, count);
    if (s.mask != nullptr) {
      z = z * inside;
      z.store(rz + H + j, count);
    }
    Vec<T> q = recurrent(u + 2 * H, gamma, mean, rstd, j, count);
    if (s.b_hn != nullptr) q = q + Vec<T>::loadu(s.b_hn + j, count);
    (q * Vec<T>(2)).store(s.q2 + b * H + j, count);
    const Vec<T> n =
        tanh(Vec<T>::loadu(A + 2 * H + j, count) + Vec<T>::loadu(rz + j, count) * q);
    n.store(s.n + b * H + j, count);
    const Vec<T> before = Vec<T>::loadu(h_prev + j, count);
    Vec<T> h = lerp(before, n, z);
    if (s.d != nullptr) h = lerp(h, before, Vec<T>::loadu(s.d + b * H + j, count));
    h.store(s.h + b * H + j, count);
  });
}

std::vector<Tensor> gru_after_forward(const Tensor& A, const Tensor& h0, const Tensor& U,
                                      const Optional& mask_in, const Optional& m_in,
                                      const Optional& d_in, const Optional& gamma_h,
                                      const Optional& b_hn, double eps) {
  check_inputs("rnnkit::gru_after", 3, A, h0, U, mask_in, m_in, d_in, gamma_h, b_hn);
  const int64_t T = A.size(0), B = A.size(1), H = h0.size(1);
  const auto like = A.options();
  const bool layer_norm = gamma_h.has_value(), dropout = m_in.has_value();
  const Tensor A_ = A.contiguous();
  const LaidOut in = laid_out(T, B, H, mask_in, m_in, d_in, gamma_h, b_hn);
  const Optional &mask = in.mask, &m = in.m, &d = in.d, &gains = in.gamma_h, &bias = in.b;
  Tensor S = at::empty({T + 1, B, H}, like);
  S[0].copy_(h0);
  Tensor RZ = at::empty({T, B, 2 * H}, like);
  Tensor Q2 = at::empty({T, B, H}, like);
  Tensor N = at::empty({T, B, H}, like);
  Tensor V = dropout ? at::empty({T, B, H}, like) : Tensor();
  std::vector<Tensor> norms;
  if (layer_norm) {
    norms = {at::empty({T, B, 3 * H}, like), at::empty({T, B, 1}, like),
             at::empty({T, B, 1}, like)};
  }
  Tensor u = layer_norm ? Tensor() : at::empty({B, 3 * H}, like);
  const Split split = Split::of(B);
  AT_DISPATCH_FLOATING_TYPES(A.scalar_type(), "rnnkit_gru_after_forward", [&] {
    using T_ = scalar_t;
    const Panels<T_> U_T = pack<T_>(U.t());  // v_t U^T
    run_steps(split, B, T, false, [&](int64_t t) {
      AfterStep<T_> s{};
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
      s.b_hn = bias.has_value() ? bias->data_ptr<T_>() : nullptr;
      s.rz = step_of<T_>(RZ, t);
      s.q2 = step_of<T_>(Q2, t);
      s.n = step_of<T_>(N, t);
      s.d = d.has_value() ? step_of<T_>(*d, t) : nullptr;
      s.h = step_of<T_>(S, t + 1);
      auto dropped = [&, s](int64_t b0, int64_t b1) {  // v_t = m * h_{t-1} for rows [b0, b1)
        multiply(s.h_prev, s.m, s.v, b0 * H, b1 * H);
      };
      auto times_U = [&, s](int64_t b0, int64_t b1, int64_t q0, int64_t q1) {
        product(s.v + b0 * H, b1 - b0, H, U_T, s.u + b0 * 3 * H, 3 * H, q0, q1);
      };
      auto updates = [&, s](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) after_update(s, H, eps, b);
      };
      return std::make_tuple(rows_phase(dropped, dropout), panels_phase(times_U, U_T.blocks),
                             rows_phase(updates));
    });
  });
  std::vector<Tensor> outputs{S, RZ, Q2, N};
  if (dropout) outputs.push_back(V);
  for (auto& x : norms) outputs.push_back(x);
  return outputs;
}

// The backward of row b at step t, up to du_t (gru_after.py's docstring):
//   g_t += dL/dh_t;  g'_t = g_t (1 - d_t);  da_h = g'_t z_t (1 - n_t^2)
//   da_z = g'_t (n_t - h_{t-1}) z_t (1 - z_t);  da_r = da_h q_t r_t (1 - r_t);  dq = da_h r_t
//   du_t = [da_r, da_z, dq], or LN's backward of it
template <typename T>
struct AfterBackStep {
  const T* rz;
  const T* q2;
  const T* n;
  const T* h_prev;
  const T* m;
  const T* d;
  const T* d_out;
  T* g;
  T* g_prev;         // first du_t U
  T* dG;             // (B,3H) da_r | da_z | dq
  T* dA_h;           // (B,H)
  T* du;             // (B,3H) with layer norm (else dG)
  const T* u;
  const T* mean;
  const T* rstd;
  const T* gamma_h;
  T* d_gains;        // (B,3H)
};

template <typename T>
__attribute__((noinline)) void after_gradients(const AfterBackStep<T>& s, int64_t H, int64_t b) {
  const T* r = s.rz + b * 2 * H;
  const T* z = r + H;
  T* g = s.g + b * H;
  T* dG = s.dG + b * 3 * H;
  const Vec<T> one(1), half(0.5);
  over_row<T>(H, [&](int64_t j, int64_t count) {
    const Vec<T> g_t = Vec<T>::loadu(g + j, count) + Vec<T>::loadu(s.d_out + b * H + j, count);
    g_t.store(g + j, count);
    const Vec<T> g_new =
        s.d == nullptr ? g_t : g_t * (one - Vec<T>::loadu(s.d + b * H + j, count));
    const Vec<T> n = Vec<T>::loadu(s.n + b * H + j, count);
    const Vec<T> z_j = Vec<T>::loadu(z + j, count), r_j = Vec<T>::loadu(r + j, count);
    const Vec<T> dA_h = g_new * z_j * (one - n * n);
    dA_h.store(s.dA_h + b * H + j, count);
    const Vec<T> change = n - Vec<T>::loadu(s.h_prev + b * H + j, count);
    (g_new * change * z_j * (one - z_j)).store(dG + H + j, count);
    const Vec<T> q = Vec<T>::loadu(s.q2 + b * H + j, count) * half;
    (dA_h * q * r_j * (one - r_j)).store(dG + j, count);
    (dA_h * r_j).store(dG + 2 * H + j, count);
  });
  if (s.gamma_h != nullptr) {
    layer_norm_row_backward(dG, s.u + b * 3 * H, s.mean[b], s.rstd[b], s.gamma_h, 3 * H,
                            s.du + b * 3 * H, s.d_gains + b * 3 * H, (T*)nullptr);
  }
}

// g_{t-1} = (du_t U) m + g'_t (1 - z_t) + g_t d_t for row b, du_t U already in g_prev.
template <typename T>
__attribute__((noinline)) void after_state(const AfterBackStep<T>& s, int64_t H, int64_t b) {
  const T* z = s.rz + b * 2 * H + H;
  const Vec<T> one(1);
  over_row<T>(H, [&](int64_t j, int64_t count) {
    const int64_t at = b * H + j;
    Vec<T> g_prev = Vec<T>::loadu(s.g_prev + at, count);
    if (s.m != nullptr) g_prev = g_prev * Vec<T>::loadu(s.m + at, count);
    const Vec<T> g_t = Vec<T>::loadu(s.g + at, count);
    const Vec<T> keep = one - Vec<T>::loadu(z + j, count);
    if (s.d != nullptr) {
      const Vec<T> d = Vec<T>::loadu(s.d + at, count);
      g_prev = g_prev + g_t * (one - d) * keep + g_t * d;
    } else {
      g_prev = g_prev + g_t * keep;
    }
    g_prev.store(s.g_prev + at, count);
  });
}

std::vector<Tensor> gru_after_backward(const Tensor& A, const Tensor& h0, const Tensor& U,
                                       const Optional& mask, const Optional& m_in,
                                       const Optional& d_in, const Optional& gamma_h,
                                       const Optional& b_hn, at::TensorList saved,
                                       const Tensor& dS) {
  check_inputs("rnnkit::gru_after", 3, A, h0, U, mask, m_in, d_in, gamma_h, b_hn);
  const int64_t T = A.size(0), B = A.size(1), H = h0.size(1);
  const bool layer_norm = gamma_h.has_value(), dropout = m_in.has_value();
  const size_t expected = 4 + (dropout ? 1 : 0) + (layer_norm ? 3 : 0);
  TORCH_CHECK(saved.size() == expected, "rnnkit::gru_after_backward: expected ", expected,
              " saved buffers from the forward, got ", saved.size());
  TORCH_CHECK(dS.sizes() == at::IntArrayRef({T + 1, B, H}),
              "rnnkit::gru_after_backward: dS must be (T+1,B,H)");
  const auto like = A.options();
  const Tensor S = saved[0].contiguous(), RZ = saved[1].contiguous();
  const Tensor Q2 = saved[2].contiguous(), N = saved[3].contiguous();
  const Tensor V = dropout ? saved[4].contiguous() : S.narrow(0, 0, T);
  std::vector<Tensor> norms;
  for (size_t k = 4 + (dropout ? 1 : 0); k < saved.size(); ++k) {
    norms.push_back(saved[k].contiguous());
  }
  const Tensor dS_ = dS.contiguous();
  const LaidOut in = laid_out(T, B, H, std::nullopt, m_in, d_in, gamma_h);
  const Optional &m = in.m, &d = in.d, &gains = in.gamma_h;
  Tensor dG = at::empty({T, B, 3 * H}, like);
  Tensor dA_h = at::empty({T, B, H}, like);
  Tensor du_rows = layer_norm ? at::empty({T, B, 3 * H}, like) : dG;
  Tensor d_gains = layer_norm ? at::zeros({B, 3 * H}, like) : Tensor();
  Tensor g = at::zeros({B, H}, like), g_prev = at::empty({B, H}, like);
  const Split split = Split::of(B);
  AT_DISPATCH_FLOATING_TYPES(A.scalar_type(), "rnnkit_gru_after_backward", [&] {
    using T_ = scalar_t;
    const Panels<T_> U_panels = pack<T_>(U);  // du_t U
    // dL/dh of S's entry i (h_i) in one of two buffers taken in turn, that of h_T in g
    auto g_of = [&](int64_t i) { return ((T - i) % 2 == 0 ? g : g_prev).data_ptr<T_>(); };
    run_steps(split, B, T, true, [&](int64_t t) {
      AfterBackStep<T_> s{};
      s.rz = step_of<T_>(RZ, t);
      s.q2 = step_of<T_>(Q2, t);
      s.n = step_of<T_>(N, t);
      s.h_prev = step_of<T_>(S, t);
      s.m = dropout ? m->data_ptr<T_>() : nullptr;
      s.d = d.has_value() ? step_of<T_>(*d, t) : nullptr;
      s.d_out = step_of<T_>(dS_, t + 1);
      s.g = g_of(t + 1);
      s.g_prev = g_of(t);
      s.dG = step_of<T_>(dG, t);
      s.dA_h = step_of<T_>(dA_h, t);
      s.du = step_of<T_>(du_rows, t);
      if (layer_norm) {
        s.u = step_of<T_>(norms[0], t);
        s.mean = step_of<T_>(norms[1], t);
        s.rstd = step_of<T_>(norms[2], t);
        s.gamma_h = gains->data_ptr<T_>();
        s.d_gains = d_gains.data_ptr<T_>();
      }
      auto gradients = [&, s](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) after_gradients(s, H, b);
      };
      auto times_U = [&, s](int64_t b0, int64_t b1, int64_t q0, int64_t q1) {
        product(s.du + b0 * 3 * H, b1 - b0, 3 * H, U_panels, s.g_prev + b0 * H, H, q0, q1);
      };
      auto states = [&, s](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) after_state(s, H, b);
      };
      return std::make_tuple(rows_phase(gradients), panels_phase(times_U, U_panels.blocks),
                             rows_phase(states));
    });
  });
  const Tensor dh0 = T % 2 == 0 ? g : g_prev;  // g_of(0)
  std::vector<Tensor> grads{at::cat({dG.narrow(2, 0, 2 * H), dA_h}, 2), dh0 + dS_[0],
                            at::mm(du_rows.flatten(0, 1).t(), V.flatten(0, 1))};
  if (layer_norm) {
    grads.push_back(sum_in_row_order(d_gains));
  }
  if (b_hn.has_value()) grads.push_back(dG.narrow(2, 2 * H, H).sum(at::IntArrayRef{0, 1}));
  return grads;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(rnnkit_cpp, library) {
  library.def(
      "gru_after_forward(Tensor A, Tensor h0, Tensor U, Tensor? mask, Tensor? m, Tensor? d, "
      "Tensor? gamma_h, Tensor? b_hn, float eps) -> Tensor[]");
  library.def(
      "gru_after_backward(Tensor A, Tensor h0, Tensor U, Tensor? mask, Tensor? m, Tensor? d, "
      "Tensor? gamma_h, Tensor? b_hn, Tensor[] saved, Tensor dS) -> Tensor[]");
}

TORCH_LIBRARY_IMPL(rnnkit_cpp, CPU, library) {
  library.impl("gru_after_forward", &gru_after_forward);
  library.impl("gru_after_backward", &gru_after_backward);
}
