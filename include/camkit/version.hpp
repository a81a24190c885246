#pragma once
// The one place camkit's version is written; CMake and the Conan recipe read it from here.
#define CAMKIT_VERSION_MAJOR 0
#define CAMKIT_VERSION_MINOR 1
#define CAMKIT_VERSION_PATCH 0
#define CAMKIT_VERSION_STRING "0.1.0"
