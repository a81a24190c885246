// The host kernels of camkit's registered methods, compiled in this translation unit only (the
// program's other files include camkit/kernel_instances.hpp and use them).
#include <camkit/kernel_instances.hpp>

CAMKIT_INSTANTIATE_KERNELS(float)
CAMKIT_INSTANTIATE_KERNELS(double)
