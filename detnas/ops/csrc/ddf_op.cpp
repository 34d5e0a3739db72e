// Operator schema, Meta (shape-only) kernels and the Python module entry of detnas.ops._C.
// The CPU kernels live in cpu/ddf_cpu.cpp and the CUDA ones in cuda/; each registers itself.
#include <Python.h>
#include <torch/library.h>

#include <tuple>

#include "ddf_common.h"

namespace detnas {
namespace ddf {
namespace {

at::Tensor forward_meta(const at::Tensor& x, const at::Tensor& offset_weight,
                        at::IntArrayRef dilations, int64_t kernel_size, int64_t groups,
                        bool softmax) {
  const Geometry g = check_inputs(x, offset_weight, dilations, kernel_size, groups);
  return empty_nhwc(g.N, g.C, g.H, g.W, x.options());
}

std::tuple<at::Tensor, at::Tensor> backward_meta(const at::Tensor& grad_out, const at::Tensor& x,
                                                 const at::Tensor& offset_weight,
                                                 at::IntArrayRef dilations, int64_t kernel_size,
                                                 int64_t groups, bool softmax,
                                                 bool deterministic) {
  const Geometry g = check_inputs(x, offset_weight, dilations, kernel_size, groups);
  TORCH_CHECK(grad_out.sizes() == x.sizes(), "dilated_deform_fusion_backward: grad_out shape ",
              grad_out.sizes(), " must equal x shape ", x.sizes());
  return {empty_nhwc(g.N, g.C, g.H, g.W, x.options()), empty_like_layout(offset_weight)};
}

}  // namespace

TORCH_LIBRARY(detnas, m) {
  m.def(
      "dilated_deform_fusion(Tensor x, Tensor offset_weight, int[] dilations, int kernel_size, "
      "int groups, bool softmax) -> Tensor");
  m.def(
      "dilated_deform_fusion_backward(Tensor grad_out, Tensor x, Tensor offset_weight, "
      "int[] dilations, int kernel_size, int groups, bool softmax, bool deterministic) "
      "-> (Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(detnas, Meta, m) {
  m.impl("dilated_deform_fusion", &forward_meta);
  m.impl("dilated_deform_fusion_backward", &backward_meta);
}

}  // namespace ddf
}  // namespace detnas

// Importing detnas.ops._C loads this library, whose static initialisers register the ops.
PyMODINIT_FUNC PyInit__C(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module_def);
}
