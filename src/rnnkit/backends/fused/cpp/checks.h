// The inputs of the one-state cells' ops (gru.cpp, gru_after.cpp, rnn.cpp): checked before a
// loop reads them (a wrong width would read past a row; one error line naming the first input
// that is wrong), then laid out as the loops read them.

#pragma once

#include <ATen/ATen.h>
#include <ATen/ExpandUtils.h>

#include "rows.h"

#include <optional>

namespace rnnkit {

// A (T,B,G*H), h0 (B,H), U (G*H,H), mask (T,B,1), m (B,H), d (T,B,H) (each mask as any shape
// that broadcasts), γ^h (G*H), b (H) (GRU(reset="after")'s b_hn), all of A's dtype and on CPU.
inline void check_inputs(const char* op, int64_t G, const at::Tensor& A, const at::Tensor& h0,
                         const at::Tensor& U, const std::optional<at::Tensor>& mask,
                         const std::optional<at::Tensor>& m, const std::optional<at::Tensor>& d,
                         const std::optional<at::Tensor>& gamma_h,
                         const std::optional<at::Tensor>& b = std::nullopt) {
  using Optional = std::optional<at::Tensor>;
  TORCH_CHECK(A.dim() == 3 && h0.dim() == 2, op, ": A must be (T,B,", G, "H) and h0 (B,H)");
  const int64_t T = A.size(0), B = A.size(1), H = h0.size(1);
  TORCH_CHECK(A.size(2) == G * H && h0.size(0) == B, op, ": A ", A.sizes(), " and h0 ",
              h0.sizes(), " do not agree on (T, B, ", G, "H), (B, H)");
  TORCH_CHECK(U.sizes() == at::IntArrayRef({G * H, H}), op, ": U must be (", G, "H, H) = (",
              G * H, ", ", H, "), got ", U.sizes());
  auto broadcasts = [&](const Optional& x, at::IntArrayRef shape, const char* name) {
    if (!x.has_value()) return;
    TORCH_CHECK(at::is_expandable_to(x->sizes(), shape), op, ": ", name, " of shape ",
                x->sizes(), " does not broadcast to ", shape);
  };
  broadcasts(mask, {T, B, 1}, "mask");
  broadcasts(m, {B, H}, "m");
  broadcasts(d, {T, B, H}, "d");
  TORCH_CHECK(!gamma_h.has_value() || gamma_h->sizes() == at::IntArrayRef({G * H}), op,
              ": gamma_h must be (", G, "H)");
  TORCH_CHECK(!b.has_value() || b->sizes() == at::IntArrayRef({H}), op, ": b_hn must be (H)");
  for (const Optional& x : {Optional(h0), Optional(U), mask, m, d, gamma_h, b}) {
    if (!x.has_value()) continue;
    TORCH_CHECK(x->scalar_type() == A.scalar_type() && x->device().is_cpu(), op,
                ": every input must be of A's dtype (", A.scalar_type(), ") and on CPU");
  }
}

// The masks and gains of a call, each contiguous at its full shape, or nullopt where the option
// is off: mask (T,B,1), m (B,H), d (T,B,H) (one the same at every step made once: every_step),
// γ^h and b as they are.
struct LaidOut {
  std::optional<at::Tensor> mask, m, d, gamma_h, b;
};

inline LaidOut laid_out(int64_t T, int64_t B, int64_t H, const std::optional<at::Tensor>& mask,
                        const std::optional<at::Tensor>& m, const std::optional<at::Tensor>& d,
                        const std::optional<at::Tensor>& gamma_h,
                        const std::optional<at::Tensor>& b = std::nullopt) {
  LaidOut out;
  if (mask.has_value()) out.mask = mask->expand({T, B, 1}).contiguous();
  if (m.has_value()) out.m = m->expand({B, H}).contiguous();
  if (d.has_value()) out.d = every_step(*d, T, B, H);
  if (gamma_h.has_value()) out.gamma_h = gamma_h->contiguous();
  if (b.has_value()) out.b = b->contiguous();
  return out;
}

}  // namespace rnnkit
