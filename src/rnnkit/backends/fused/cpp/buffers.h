// The large buffers a call allocates (the LSTM's states S and C, the gates and layer norm's U v_t
// saved for backward, the gradients dA and du of every step; linear.cpp's input product),
// reused from one call to the next.
//
// Why: glibc hands out every block over 32 MB as fresh pages from the kernel, each 4 KB page
// faulted in on first touch (about 1.2 µs each on this project's machines), and gives them back
// when freed; a (T, B, 4H) buffer at (100, 64, 512) is 52 MB, so every training step faulted
// them all in again: a 2-layer fused LSTM step at that shape faulted 262 MB (472 MB with layer
// norm). Kept here instead, the step took 691 ms against 759-760 (730-767 against 883-922 with
// layer norm; Intel Xeon, 2 threads, interleaved in one process, two runs). Smaller blocks
// fault too, whenever glibc trims its heap's top: the LSTM's states S (13 MB a layer at that
// shape) kept here, its inference took 244 ms against 252-253 (two runs); at (32,64,128,2) the
// input product (4 MB a layer) faulted in at one call in three or four, and in `bench layers
// --backends fused`, whose rounds interleave training and inference, the layer-norm LSTM's
// inference ran 0.79-0.82 of torch.nn.LSTM's with an 8 MB floor here, 0.91-0.92 with 1 MB (its
// training 0.80-0.82 and 0.98-1.02).
//
// A buffer is handed out again only when no tensor holds its storage any more (autograd frees
// the saved gates after backward, the optimiser step frees the gradients): its storage's use
// count is then the cache's own. Only buffers of at least MIN_BYTES are kept (glibc's heap
// serves smaller ones without faults), at most CAP_BYTES in all; a buffer over the cap is an
// ordinary one.

#pragma once

#include <ATen/ATen.h>

#include <mutex>
#include <vector>

namespace rnnkit {

constexpr int64_t MIN_BYTES = int64_t(1) << 20;
constexpr int64_t CAP_BYTES = int64_t(1) << 30;

// An uninitialised contiguous tensor of `sizes`: a free cached buffer of at least its size (and
// at most twice it), or a new one, kept for later calls while the cache has room.
inline at::Tensor reused(at::IntArrayRef sizes, const at::TensorOptions& options) {
  const int64_t bytes = c10::multiply_integers(sizes) * int64_t(options.dtype().itemsize());
  if (bytes < MIN_BYTES) return at::empty(sizes, options);
  // never destroyed: tensors may outlive static destructors at exit
  static auto* lock = new std::mutex();
  static auto* cache = new std::vector<at::Tensor>();
  static int64_t cached = 0;
  std::lock_guard<std::mutex> guard(*lock);
  // each handed-out tensor its own view of the storage, so that the storage's use count
  // counts the holders (the cache's tensor and a handed-out one are distinct)
  auto view_of = [&](const at::Tensor& kept) {
    return at::empty({0}, options).set_(kept.storage(), 0, sizes);
  };
  for (const at::Tensor& kept : *cache) {
    const int64_t size = int64_t(kept.storage().nbytes());
    const bool free = kept.storage().use_count() == 1;
    if (free && kept.dtype() == options.dtype() && size >= bytes && size <= 2 * bytes) {
      return view_of(kept);
    }
  }
  at::Tensor fresh = at::empty(sizes, options);
  if (cached + bytes > CAP_BYTES) return fresh;
  cache->push_back(fresh);
  cached += bytes;
  return view_of(fresh);
}

}  // namespace rnnkit
