// The input product of a whole sequence, x W^T (+ b) for every step at once (backends/onednn.py's
// `linear` on its matmul path), into a buffer reused from call to call (buffers.h).
//
// Why: at (T, B) = (100, 64) and 4H = 2,048 the product is 52 MB, over the size from which glibc
// hands out fresh pages at every call; faulting them in cost the product a quarter of its time
// (64 ms against 48.5 into memory already mapped, Intel Xeon, 2 threads).

#include <ATen/ATen.h>
#include <torch/library.h>

#include "buffers.h"

#include <optional>

namespace {

at::Tensor linear(const at::Tensor& x, const at::Tensor& weight,
                  const std::optional<at::Tensor>& bias) {
  TORCH_CHECK(x.dim() == 2 && weight.dim() == 2 && x.size(1) == weight.size(1),
              "rnnkit::linear: x must be (N, K) and weight (M, K), got ", x.sizes(), " and ",
              weight.sizes());
  at::Tensor out = rnnkit::reused({x.size(0), weight.size(0)}, x.options());
  if (bias.has_value()) return at::addmm_out(out, *bias, x, weight.t());
  return at::mm_out(out, x, weight.t());
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(rnnkit_cpp, library) {
  library.def("linear(Tensor x, Tensor weight, Tensor? bias) -> Tensor");
}

TORCH_LIBRARY_IMPL(rnnkit_cpp, CPU, library) { library.impl("linear", &linear); }
