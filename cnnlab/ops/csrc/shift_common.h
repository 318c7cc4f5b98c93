// Checks shared by the CPU and CUDA channel-shift kernels (prepended to both sources).
//
// Convention, as in cnnlab/ops/shift.py: out[n, c, y, x] = in[n, c, y + dy[c], x + dx[c]], zero
// where that source pixel is outside the map. `table` holds (dy, dx) per channel as an
// int64 tensor of shape (C, 2) on the tensors' device; the adjoint shift is the same call with
// the table negated.

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

// Validates the arguments and returns true when x and out are channels_last (NHWC in memory),
// false when they are contiguous NCHW. Python picks the layout; this only guards the contract.
inline bool check_shift_arguments(const at::Tensor& x, const at::Tensor& table,
                                  const at::Tensor& out) {
  TORCH_CHECK(x.dim() == 4, "shift: x must be 4-D (N, C, H, W), got ", x.dim(), " dimensions");
  TORCH_CHECK(out.sizes() == x.sizes(), "shift: out has shape ", out.sizes(), ", x has ",
              x.sizes());
  TORCH_CHECK(out.scalar_type() == x.scalar_type(), "shift: out and x differ in dtype");
  TORCH_CHECK(out.device() == x.device() && table.device() == x.device(),
              "shift: x, out and the displacement table must be on one device");
  TORCH_CHECK(table.scalar_type() == at::kLong && table.is_contiguous() && table.dim() == 2 &&
                  table.size(0) == x.size(1) && table.size(1) == 2,
              "shift: the displacement table must be a contiguous int64 tensor of shape (C, 2)");
  const bool channels_last = !x.is_contiguous();
  const auto format = channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  TORCH_CHECK(x.is_contiguous(format) && out.is_contiguous(format),
              "shift: x and out must both be contiguous or both channels_last");
  return channels_last;
}
