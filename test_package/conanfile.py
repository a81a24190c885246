# Builds and runs a tiny consumer of the camkit package with CMakeDeps/CMakeToolchain.
import os

from conan import ConanFile
from conan.tools.build import can_run
from conan.tools.cmake import CMake, CMakeToolchain, cmake_layout


class CamkitTestConan(ConanFile):
    settings = "os", "arch", "compiler", "build_type"
    generators = "CMakeDeps", "VirtualRunEnv"
    test_type = "explicit"

    def requirements(self):
        self.requires(self.tested_reference_str)

    def layout(self):
        cmake_layout(self)

    def generate(self):
        toolchain = CMakeToolchain(self)
        options = self.dependencies[self.tested_reference_str].options
        toolchain.cache_variables["CAMKIT_TEST_IO"] = bool(options.with_io)
        toolchain.cache_variables["CAMKIT_TEST_XTENSOR"] = bool(options.with_xtensor)
        toolchain.cache_variables["CAMKIT_TEST_BLAS"] = bool(options.with_blas)
        toolchain.cache_variables["CAMKIT_TEST_TORCH"] = bool(options.with_torch)
        toolchain.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def test(self):
        if can_run(self):
            for program in ("test_package", "test_package_io", "test_package_xtensor", "test_package_blas", "test_package_torch"):
                path = os.path.join(self.cpp.build.bindir, program)
                if os.path.exists(path):
                    self.run(path, env="conanrun")
