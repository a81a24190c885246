# Conan 2 recipe for camkit: a header-only package with components core, io, xtensor, blas and
# torch, whose CMake targets are the ones of the CMake package (camkit::core, camkit::io,
# camkit::xtensor, camkit::blas, camkit::torch).
import os
import re

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy, load
from conan.tools.layout import basic_layout

required_conan_version = ">=2.0"


class CamkitConan(ConanFile):
    name = "camkit"
    description = ("Header-only C++20 class-activation maps (Grad-CAM, HiResCAM, Seg-Grad-CAM, ...) "
                   "for xtensor and LibTorch")
    license = "MIT"
    topics = ("explainability", "grad-cam", "class-activation-map", "xtensor", "libtorch", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    options = {
        # camkit::io: file, npy and image I/O (standard library + stb).
        "with_io": [True, False],
        # camkit::xtensor: the xtensor binding and its npy/image wrappers (needs io).
        "with_xtensor": [True, False],
        # camkit::blas: explain_many's matrix product by CBLAS (OpenBLAS).
        "with_blas": [True, False],
        # ConanCenter's libtorch is CPU only: a CUDA LibTorch is brought by the user.
        "with_torch": [True, False],
    }
    default_options = {
        "with_io": True,
        "with_xtensor": True,
        "with_blas": False,
        "with_torch": False,
        "boost/*:header_only": True,
    }
    exports_sources = "include/*", "io/include/*", "adapters/*/include/*", "LICENSE"
    no_copy_source = True

    def set_version(self):
        # The one place the version is written is include/camkit/version.hpp.
        text = load(self, os.path.join(self.recipe_folder, "include", "camkit", "version.hpp"))
        self.version = re.search(r'#define CAMKIT_VERSION_STRING "([^"]+)"', text).group(1)

    def layout(self):
        basic_layout(self, src_folder=".")

    def requirements(self):
        # Public headers include these, so their headers (and libraries) reach the consumers.
        self.requires("boost/1.83.0", transitive_headers=True)
        if self.options.with_io:
            self.requires("stb/cci.20230920", transitive_headers=True)
        if self.options.with_xtensor:
            self.requires("xtensor/0.24.7", transitive_headers=True)
        if self.options.with_blas:
            self.requires("openblas/0.3.27", transitive_headers=True, transitive_libs=True)
        if self.options.with_torch:
            self.requires("libtorch/2.9.1", transitive_headers=True, transitive_libs=True)

    def package_id(self):
        self.info.clear()

    def validate(self):
        if self.options.with_xtensor and not self.options.with_io:
            raise ConanInvalidConfiguration("camkit's xtensor component needs its io component (with_io=True)")
        if self.settings.compiler.get_safe("cppstd"):
            check_min_cppstd(self, 20)

    def build(self):
        pass  # header-only: nothing to build

    def package(self):
        # Every adapter's headers are packaged whatever the options (they are inert without their
        # dependency), so the one package id of a header-only library fits every option set; the
        # options choose the requirements and components.
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        include = os.path.join(self.package_folder, "include")
        copy(self, "*.hpp", os.path.join(self.source_folder, "include"), include)
        copy(self, "*.hpp", os.path.join(self.source_folder, "io", "include"), include)
        for adapter in ("xtensor", "torch"):
            copy(self, "*.hpp", os.path.join(self.source_folder, "adapters", adapter, "include"), include)

    def _external(self, package, component):
        # A [platform_requires] dependency (provided by the system, with no Conan package information)
        # is left out of self.dependencies.host; naming its component would stop CMakeDeps with "is not
        # a direct dependency" (conan-io/docs#3908). Its headers are on the system include path.
        return [f"{package}::{component}"] if package in self.dependencies.host else []

    def _component(self, name, requires):
        # A header-only component whose CMake target is camkit::<name>, as in the CMake package.
        component = self.cpp_info.components[name]
        component.set_property("cmake_target_name", f"camkit::{name}")
        component.bindirs = []
        component.libdirs = []
        component.requires = requires
        return component

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "camkit")
        self.cpp_info.set_property("cmake_target_name", "camkit::camkit")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []

        core = self._component("core", self._external("boost", "headers"))
        if self.settings.os in ("Linux", "FreeBSD"):
            core.system_libs = ["pthread"]  # the host kernels use std::thread
        if self.options.with_io:
            self._component("io", ["core"] + self._external("stb", "stb"))
        if self.options.with_xtensor:
            self._component("xtensor", ["core", "io"] + self._external("xtensor", "xtensor"))
        if self.options.with_blas:
            blas = self._component("blas", ["core"] + self._external("openblas", "openblas"))
            blas.defines = ["CAMKIT_WITH_CBLAS=1"]  # as the CMake package's camkit::blas
            if "openblas" not in self.dependencies.host:
                blas.system_libs = ["openblas"]  # provided by the system ([platform_requires])
        if self.options.with_torch:
            self._component("torch", ["core"] + self._external("libtorch", "torch"))
