// The lecture's GRU's (reset before U_h) time loops in C++: the same computation as
// backends/fused/gru.py's Python forward and backward (whose docstring has the equations, with
// layer norm, recurrent dropout, zoneout and lengths), the same inputs and the same outputs, so
// either backward reads either forward.
//
// Why: the same as lstm.cpp's. At small batches and widths Python's call of each of a step's
// dozen kernels costs as much as the kernel; here each thread takes whole rows of the batch:
// v_t, its rows of U_rz v_t (gemm.h), the gates r_t, z_t and r_t v_t, its rows of U_h (r_t v_t),
// then h~_t and h_t, in vectorised passes over whole rows. A row's second product needs only
// that row's r_t, so a row needs no other thread's work, within a step or across steps: each
// thread runs its rows through the whole sequence in one parallel region (rows.h's run_steps;
// 1.02-1.18x the forward's speed of a region per step at (32,64,128) and (16,200,256), Intel
// Xeon). The backward likewise, per row: da_h, d(rv)_t = du_h U_h, da_r and da_z, du_rz U_rz
// and g_{t-1}.
//
//   [r_t, z_t] = σ(A_rz,t + U_rz v_t)              or σ(A_rz,t + LN(U_rz v_t) γ^h_rz)
//   h~_t = tanh(A_h,t + U_h (r_t v_t))             or tanh(A_h,t + LN(U_h (r_t v_t)) γ^h_h)
//   h'_t = lerp(h_{t-1}, h~_t, z_t);  h_t = lerp(h'_t, h_{t-1}, d_t) with zoneout
//
// v_t = h_{t-1}, or m * h_{t-1} with recurrent dropout; z_t = 0 on a padded step (mask 0), so
// h_t = h_{t-1} there. Storage: gates r | z | h; A (T,B,3H) = W x_t + b (layer norm's of the
// input included); S = h_0..h_T (T+1,B,H).

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

// The per-row functions below are compiled once (noinline): inlined, GCC fused their
// multiply-adds differently in the one-region path and in the phase-by-phase path, and the
// gradients changed in the last bits with the thread count (a resumed run would not continue
// exactly). Called once per row and step, the call costs nothing measurable.

// Step t's rows, each pointer at row 0 of its (B, .) buffer; null where an option is off.
template <typename T>
struct Step {
  const T* A;        // (B,3H) A_t
  const T* mask;     // (B) 1 inside the sequence, 0 on padding
  const T* h_prev;   // (B,H) h_{t-1}
  const T* m;        // (B,H) recurrent dropout's mask
  T* v;              // (B,H) v_t = m * h_{t-1} (with dropout; else h_prev)
  T* u_rz;           // (B,2H) U_rz v_t (with layer norm, the saved copy)
  T* u_h;            // (B,H) U_h (r_t v_t)
  const T* gamma_h;  // (3H)
  T* mean_rz;        // (B) layer norm's row statistics of u_rz and u_h
  T* rstd_rz;
  T* mean_h;
  T* rstd_h;
  T* rz;             // (B,2H) r_t | z_t
  T* rv;             // (B,H) r_t v_t
  T* h_tilde;        // (B,H)
  const T* d;        // (B,H) zoneout
  T* h;              // (B,H) h_t
};

// Row b's r_t, z_t (z_t = 0 on padding) and r_t v_t, from U_rz v_t.
template <typename T>
__attribute__((noinline)) void gates(const Step<T>& s, int64_t H, double eps, int64_t b) {
  const T* u = s.u_rz + b * 2 * H;
  T mean, rstd;
  std::tie(mean, rstd) = recurrent_moments(u, 2 * H, s.gamma_h, eps, s.mean_rz, s.rstd_rz, b);
  T* rz = s.rz + b * 2 * H;
  reset_and_update(u, s.gamma_h, mean, rstd, s.A + b * 3 * H, rz, H);
  const Vec<T> inside(s.mask == nullptr ? T(1) : s.mask[b]);
  const T* v = s.v + b * H;
  over_row<T>(H, [&](int64_t j, int64_t count) {
    if (s.mask != nullptr) (Vec<T>::loadu(rz + H + j, count) * inside).store(rz + H + j, count);
    (Vec<T>::loadu(rz + j, count) * Vec<T>::loadu(v + j, count)).store(s.rv + b * H + j, count);
  });
}

// Row b's h~_t, h'_t and h_t, from U_h (r_t v_t).
template <typename T>
__attribute__((noinline)) void update(const Step<T>& s, int64_t H, double eps, int64_t b) {
  const T* u = s.u_h + b * H;
  const T* gamma = s.gamma_h == nullptr ? nullptr : s.gamma_h + 2 * H;
  T mean, rstd;
  std::tie(mean, rstd) = recurrent_moments(u, H, gamma, eps, s.mean_h, s.rstd_h, b);
  const T* A_h = s.A + b * 3 * H + 2 * H;
  const T* z = s.rz + b * 2 * H + H;
  const T* h_prev = s.h_prev + b * H;
  over_row<T>(H, [&](int64_t j, int64_t count) {
    const Vec<T> h_tilde =
        tanh(recurrent(u, gamma, mean, rstd, j, count) + Vec<T>::loadu(A_h + j, count));
    h_tilde.store(s.h_tilde + b * H + j, count);
    const Vec<T> before = Vec<T>::loadu(h_prev + j, count);
    Vec<T> h = lerp(before, h_tilde, Vec<T>::loadu(z + j, count));
    if (s.d != nullptr) h = lerp(h, before, Vec<T>::loadu(s.d + b * H + j, count));
    h.store(s.h + b * H + j, count);
  });
}

std::vector<Tensor> gru_forward(const Tensor& A, const Tensor& h0, const Tensor& U,
                                const Optional& mask_in, const Optional& m_in,
                                const Optional& d_in, const Optional& gamma_h, double eps) {
  check_inputs("rnnkit::gru", 3, A, h0, U, mask_in, m_in, d_in, gamma_h);
  const int64_t T = A.size(0), B = A.size(1), H = h0.size(1);
  const auto like = A.options();
  const bool layer_norm = gamma_h.has_value(), dropout = m_in.has_value();
  const Tensor A_ = A.contiguous();
  const LaidOut in = laid_out(T, B, H, mask_in, m_in, d_in, gamma_h);
  const Optional &mask = in.mask, &m = in.m, &d = in.d, &gains = in.gamma_h;
  Tensor S = at::empty({T + 1, B, H}, like);
  S[0].copy_(h0);
  Tensor RZ = at::empty({T, B, 2 * H}, like);
  Tensor RV = at::empty({T, B, H}, like);
  Tensor HT = at::empty({T, B, H}, like);
  Tensor V = dropout ? at::empty({T, B, H}, like) : Tensor();
  // With layer norm the products and their rows' statistics are kept for backward; without,
  // one step's products, rewritten at every step.
  std::vector<Tensor> norms;
  if (layer_norm) {
    norms = {at::empty({T, B, 2 * H}, like), at::empty({T, B, 1}, like),
             at::empty({T, B, 1}, like),     at::empty({T, B, H}, like),
             at::empty({T, B, 1}, like),     at::empty({T, B, 1}, like)};
  }
  Tensor u_rz = layer_norm ? Tensor() : at::empty({B, 2 * H}, like);
  Tensor u_h = layer_norm ? Tensor() : at::empty({B, H}, like);
  const Split split = Split::of(B);
  AT_DISPATCH_FLOATING_TYPES(A.scalar_type(), "rnnkit_gru_forward", [&] {
    using T_ = scalar_t;
    const Panels<T_> U_rz = pack<T_>(U.narrow(0, 0, 2 * H).t());  // v_t U_rz^T
    const Panels<T_> U_h = pack<T_>(U.narrow(0, 2 * H, H).t());    // (r_t v_t) U_h^T
    run_steps(split, B, T, false, [&](int64_t t) {
      Step<T_> s{};
      s.A = step_of<T_>(A_, t);
      s.mask = mask.has_value() ? step_of<T_>(*mask, t) : nullptr;
      s.h_prev = step_of<T_>(S, t);
      s.m = dropout ? m->data_ptr<T_>() : nullptr;
      s.v = dropout ? step_of<T_>(V, t) : step_of<T_>(S, t);
      s.u_rz = layer_norm ? step_of<T_>(norms[0], t) : u_rz.data_ptr<T_>();
      s.u_h = layer_norm ? step_of<T_>(norms[3], t) : u_h.data_ptr<T_>();
      if (layer_norm) {
        s.gamma_h = gains->data_ptr<T_>();
        s.mean_rz = step_of<T_>(norms[1], t);
        s.rstd_rz = step_of<T_>(norms[2], t);
        s.mean_h = step_of<T_>(norms[4], t);
        s.rstd_h = step_of<T_>(norms[5], t);
      }
      s.rz = step_of<T_>(RZ, t);
      s.rv = step_of<T_>(RV, t);
      s.h_tilde = step_of<T_>(HT, t);
      s.d = d.has_value() ? step_of<T_>(*d, t) : nullptr;
      s.h = step_of<T_>(S, t + 1);
      auto dropped = [&, s](int64_t b0, int64_t b1) {  // v_t = m * h_{t-1} for rows [b0, b1)
        multiply(s.h_prev, s.m, s.v, b0 * H, b1 * H);
      };
      auto first = [&, s](int64_t b0, int64_t b1, int64_t q0, int64_t q1) {  // U_rz v_t
        product(s.v + b0 * H, b1 - b0, H, U_rz, s.u_rz + b0 * 2 * H, 2 * H, q0, q1);
      };
      auto second = [&, s](int64_t b0, int64_t b1, int64_t q0, int64_t q1) {  // U_h (r_t v_t)
        product(s.rv + b0 * H, b1 - b0, H, U_h, s.u_h + b0 * H, H, q0, q1);
      };
      auto all_gates = [&, s](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) gates(s, H, eps, b);
      };
      auto all_updates = [&, s](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) update(s, H, eps, b);
      };
      return std::make_tuple(rows_phase(dropped, dropout), panels_phase(first, U_rz.blocks),
                             rows_phase(all_gates), panels_phase(second, U_h.blocks),
                             rows_phase(all_updates));
    });
  });
  std::vector<Tensor> outputs{S, RZ, RV, HT};
  if (dropout) outputs.push_back(V);
  for (auto& n : norms) outputs.push_back(n);
  return outputs;
}

// ---------------------------------------------------------------------------------------------
// Backward (gru.py's docstring has it whole), row b of step t, from g_t = dL/dh_t:
//   g'_t = g_t (1 - d_t);  da_h = g'_t z_t (1 - h~_t^2);  du_h = da_h, or LN's backward of it
//   d(rv)_t = du_h U_h;  da_r = d(rv)_t v_t r_t (1 - r_t)
//   da_z = g'_t (h~_t - h_{t-1}) z_t (1 - z_t)
//   du_rz = da_rz, or LN's backward of it;  g_{t-1} = (du_rz U_rz + d(rv)_t r_t) m + g'_t (1 - z_t)
//                                                     + g_t d_t
// Layer norm's gains' gradients are summed per batch row (each row one thread's at a step) and
// the rows added in order after the loop: the same bits on any thread count.

template <typename T>
struct BackStep {
  const T* rz;       // (B,2H) r_t | z_t
  const T* h_tilde;  // (B,H)
  const T* h_prev;   // (B,H)
  const T* v;        // (B,H)
  const T* m;        // (B,H) or null
  const T* d;        // (B,H) or null
  const T* d_out;    // (B,H) dL/dh_t from the output at t
  T* g;              // (B,H) g_t
  T* g_prev;         // (B,H) g_{t-1}, first du_rz U_rz
  T* dA;             // (B,3H) da_r | da_z | da_h
  T* du_rz;          // (B,2H) with layer norm (else dA's first 2H)
  T* du_h;           // (B,H) with layer norm (else dA's last H)
  T* d_rv;           // (B,H)
  const T* u_rz;     // layer norm's saved products and statistics
  const T* mean_rz;
  const T* rstd_rz;
  const T* u_h;
  const T* mean_h;
  const T* rstd_h;
  const T* gamma_h;  // (3H) or null
  T* d_gains;        // (B,3H) per batch row
};

// g_t += dL/dh_t from the output, da_h and du_h for row b.
template <typename T>
__attribute__((noinline)) void candidate_backward(const BackStep<T>& s, int64_t H, int64_t b) {
  T* g = s.g + b * H;
  T* dA_h = s.dA + b * 3 * H + 2 * H;
  const T* z = s.rz + b * 2 * H + H;
  const T* h_tilde = s.h_tilde + b * H;
  const Vec<T> one(1);
  over_row<T>(H, [&](int64_t j, int64_t count) {
    const Vec<T> g_t = Vec<T>::loadu(g + j, count) + Vec<T>::loadu(s.d_out + b * H + j, count);
    g_t.store(g + j, count);
    const Vec<T> g_new =
        s.d == nullptr ? g_t : g_t * (one - Vec<T>::loadu(s.d + b * H + j, count));
    const Vec<T> ht = Vec<T>::loadu(h_tilde + j, count);
    (g_new * Vec<T>::loadu(z + j, count) * (one - ht * ht)).store(dA_h + j, count);
  });
  if (s.gamma_h != nullptr) {
    layer_norm_row_backward(dA_h, s.u_h + b * H, s.mean_h[b], s.rstd_h[b], s.gamma_h + 2 * H, H,
                            s.du_h + b * H, s.d_gains + b * 3 * H + 2 * H, (T*)nullptr);
  }
}

// da_r, da_z and du_rz for row b, from d(rv)_t.
template <typename T>
__attribute__((noinline)) void gates_backward(const BackStep<T>& s, int64_t H, int64_t b) {
  const T* r = s.rz + b * 2 * H;
  const T* z = r + H;
  T* dA = s.dA + b * 3 * H;
  const Vec<T> one(1);
  over_row<T>(H, [&](int64_t j, int64_t count) {
    const Vec<T> r_j = Vec<T>::loadu(r + j, count), z_j = Vec<T>::loadu(z + j, count);
    const Vec<T> v = Vec<T>::loadu(s.v + b * H + j, count);
    (Vec<T>::loadu(s.d_rv + b * H + j, count) * v * r_j * (one - r_j)).store(dA + j, count);
    Vec<T> g_new = Vec<T>::loadu(s.g + b * H + j, count);
    if (s.d != nullptr) g_new = g_new * (one - Vec<T>::loadu(s.d + b * H + j, count));
    const Vec<T> change =
        Vec<T>::loadu(s.h_tilde + b * H + j, count) - Vec<T>::loadu(s.h_prev + b * H + j, count);
    (g_new * change * z_j * (one - z_j)).store(dA + H + j, count);
  });
  if (s.gamma_h != nullptr) {
    layer_norm_row_backward(dA, s.u_rz + b * 2 * H, s.mean_rz[b], s.rstd_rz[b], s.gamma_h,
                            2 * H, s.du_rz + b * 2 * H, s.d_gains + b * 3 * H, (T*)nullptr);
  }
}

// g_{t-1} for row b, from du_rz U_rz already in g_prev.
template <typename T>
__attribute__((noinline)) void state_backward(const BackStep<T>& s, int64_t H, int64_t b) {
  const T* r = s.rz + b * 2 * H;
  const T* z = r + H;
  const Vec<T> one(1);
  over_row<T>(H, [&](int64_t j, int64_t count) {
    const int64_t at = b * H + j;
    Vec<T> g_prev = Vec<T>::loadu(s.g_prev + at, count) +
                    Vec<T>::loadu(s.d_rv + at, count) * Vec<T>::loadu(r + j, count);
    if (s.m != nullptr) g_prev = g_prev * Vec<T>::loadu(s.m + at, count);
    const Vec<T> g_t = Vec<T>::loadu(s.g + at, count);
    Vec<T> g_new = g_t;
    if (s.d != nullptr) {
      const Vec<T> d = Vec<T>::loadu(s.d + at, count);
      g_new = g_t * (one - d);
      g_prev = g_prev + g_new * (one - Vec<T>::loadu(z + j, count)) + g_t * d;
    } else {
      g_prev = g_prev + g_new * (one - Vec<T>::loadu(z + j, count));
    }
    g_prev.store(s.g_prev + at, count);
  });
}

std::vector<Tensor> gru_backward(const Tensor& A, const Tensor& h0, const Tensor& U,
                                 const Optional& mask, const Optional& m_in,
                                 const Optional& d_in, const Optional& gamma_h,
                                 at::TensorList saved, const Tensor& dS) {
  check_inputs("rnnkit::gru", 3, A, h0, U, mask, m_in, d_in, gamma_h);
  const int64_t T = A.size(0), B = A.size(1), H = h0.size(1);
  const bool layer_norm = gamma_h.has_value(), dropout = m_in.has_value();
  const size_t expected = 4 + (dropout ? 1 : 0) + (layer_norm ? 6 : 0);
  TORCH_CHECK(saved.size() == expected, "rnnkit::gru_backward: expected ", expected,
              " saved buffers from the forward, got ", saved.size());
  TORCH_CHECK(dS.sizes() == at::IntArrayRef({T + 1, B, H}), "rnnkit::gru_backward: dS must be "
              "(T+1,B,H)");
  const auto like = A.options();
  const Tensor S = saved[0].contiguous(), RZ = saved[1].contiguous();
  const Tensor RV = saved[2].contiguous(), HT = saved[3].contiguous();
  const Tensor V = dropout ? saved[4].contiguous() : S.narrow(0, 0, T);
  std::vector<Tensor> norms;
  for (size_t k = 4 + (dropout ? 1 : 0); k < saved.size(); ++k) {
    norms.push_back(saved[k].contiguous());
  }
  const Tensor dS_ = dS.contiguous();
  const LaidOut in = laid_out(T, B, H, std::nullopt, m_in, d_in, gamma_h);
  const Optional &m = in.m, &d = in.d, &gains = in.gamma_h;
  Tensor dA = at::empty({T, B, 3 * H}, like);
  Tensor dU_rz_rows = layer_norm ? at::empty({T, B, 2 * H}, like) : dA.narrow(2, 0, 2 * H);
  Tensor dU_h_rows = layer_norm ? at::empty({T, B, H}, like) : dA.narrow(2, 2 * H, H);
  Tensor d_gains = layer_norm ? at::zeros({B, 3 * H}, like) : Tensor();
  Tensor g = at::zeros({B, H}, like), g_prev = at::empty({B, H}, like);
  Tensor d_rv = at::empty({B, H}, like);
  const Split split = Split::of(B);
  AT_DISPATCH_FLOATING_TYPES(A.scalar_type(), "rnnkit_gru_backward", [&] {
    using T_ = scalar_t;
    const Panels<T_> U_rz = pack<T_>(U.narrow(0, 0, 2 * H));  // du_rz U_rz
    const Panels<T_> U_h = pack<T_>(U.narrow(0, 2 * H, H));    // du_h U_h
    const int64_t row_stride = layer_norm ? 2 * H : 3 * H;      // du_rz's rows, in dA or apart
    const int64_t h_stride = layer_norm ? H : 3 * H;
    // dL/dh of S's entry i (h_i) in one of two buffers taken in turn, that of h_T in g
    auto g_of = [&](int64_t i) { return ((T - i) % 2 == 0 ? g : g_prev).data_ptr<T_>(); };
    run_steps(split, B, T, true, [&](int64_t t) {
      BackStep<T_> s{};
      s.rz = step_of<T_>(RZ, t);
      s.h_tilde = step_of<T_>(HT, t);
      s.h_prev = step_of<T_>(S, t);
      s.v = step_of<T_>(V, t);
      s.m = dropout ? m->data_ptr<T_>() : nullptr;
      s.d = d.has_value() ? step_of<T_>(*d, t) : nullptr;
      s.d_out = step_of<T_>(dS_, t + 1);
      s.g = g_of(t + 1);
      s.g_prev = g_of(t);
      s.dA = step_of<T_>(dA, t);
      s.d_rv = d_rv.data_ptr<T_>();
      T_* du_rz = layer_norm ? step_of<T_>(dU_rz_rows, t) : s.dA;
      T_* du_h = layer_norm ? step_of<T_>(dU_h_rows, t) : s.dA + 2 * H;
      if (layer_norm) {
        s.du_rz = du_rz;
        s.du_h = du_h;
        s.u_rz = step_of<T_>(norms[0], t);
        s.mean_rz = step_of<T_>(norms[1], t);
        s.rstd_rz = step_of<T_>(norms[2], t);
        s.u_h = step_of<T_>(norms[3], t);
        s.mean_h = step_of<T_>(norms[4], t);
        s.rstd_h = step_of<T_>(norms[5], t);
        s.gamma_h = gains->data_ptr<T_>();
        s.d_gains = d_gains.data_ptr<T_>();
      }
      auto candidates = [&, s](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) candidate_backward(s, H, b);
      };
      auto first = [&, s, du_h](int64_t b0, int64_t b1, int64_t q0, int64_t q1) {  // du_h U_h
        product(du_h + b0 * h_stride, b1 - b0, h_stride, U_h, s.d_rv + b0 * H, H, q0, q1);
      };
      auto gates = [&, s](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) gates_backward(s, H, b);
      };
      auto second = [&, s, du_rz](int64_t b0, int64_t b1, int64_t q0, int64_t q1) {  // du_rz U_rz
        product(du_rz + b0 * row_stride, b1 - b0, row_stride, U_rz, s.g_prev + b0 * H, H, q0, q1);
      };
      auto states = [&, s](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) state_backward(s, H, b);
      };
      return std::make_tuple(rows_phase(candidates), panels_phase(first, U_h.blocks),
                             rows_phase(gates), panels_phase(second, U_rz.blocks),
                             rows_phase(states));
    });
  });
  auto over_steps = [](const Tensor& a, const Tensor& b) {  // a^T b over all T*B rows
    return at::mm(a.flatten(0, 1).t(), b.flatten(0, 1));
  };
  const Tensor dh0 = T % 2 == 0 ? g : g_prev;  // g_of(0)
  std::vector<Tensor> grads{dA, dh0 + dS_[0],
                            at::cat({over_steps(dU_rz_rows, V), over_steps(dU_h_rows, RV)})};
  if (layer_norm) {
    grads.push_back(sum_in_row_order(d_gains));
  }
  return grads;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(rnnkit_cpp, library) {
  library.def(
      "gru_forward(Tensor A, Tensor h0, Tensor U, Tensor? mask, Tensor? m, Tensor? d, "
      "Tensor? gamma_h, float eps) -> Tensor[]");
  library.def(
      "gru_backward(Tensor A, Tensor h0, Tensor U, Tensor? mask, Tensor? m, Tensor? d, "
      "Tensor? gamma_h, Tensor[] saved, Tensor dS) -> Tensor[]");
}

TORCH_LIBRARY_IMPL(rnnkit_cpp, CPU, library) {
  library.impl("gru_forward", &gru_forward);
  library.impl("gru_backward", &gru_backward);
}
