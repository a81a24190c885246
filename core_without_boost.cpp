#include <camkit/version.hpp>
