# camkit_find_torch(): finds LibTorch for camkit::torch as CAMKIT_WITH_TORCH says (ON: required,
# AUTO: where it configures), in the calling directory's scope (a macro, so that find_package's
# variables and the library path below stay there).
#
# Why a probe: the TorchConfig.cmake of a CUDA build of LibTorch (every default PyTorch wheel for
# Linux) enables the CUDA language and finds the CUDA toolkit (and cuDNN if asked), and stops the whole
# configure with FATAL_ERROR when it cannot, QUIET or not. So LibTorch is first configured in a
# child cmake process (cmake/torch_probe) with this configure's search paths and CUDA settings;
# only a LibTorch that configures there is found here, and one that does not is reported with
# what to pass.
#
# Why the library path and Caffe2_DIR: TorchConfig.cmake finds libtorch.so and libc10.so with
# find_library and PATHS <its prefix>/lib, and Caffe2Config.cmake with PATHS beside it, which CMake
# searches after the system folders, so a system LibTorch (Debian's libtorch-dev in /usr/lib) would
# be linked with a wheel's headers. The probed LibTorch's own folders go first
# (camkit_torch_paths.cmake, also installed for camkitConfig.cmake).

include("${CMAKE_CURRENT_LIST_DIR}/camkit_torch_paths.cmake")
set(CAMKIT_TORCH_PROBE_SOURCE "${CMAKE_CURRENT_LIST_DIR}/torch_probe")

# What a user passes to make a CUDA build of LibTorch configure, or to leave it out.
set(_camkit_torch_cuda_hint
    "A CUDA build of LibTorch needs a CUDA toolkit (nvcc of the build's major version) to configure, even for programs that run on the CPU: pass -DCUDAToolkit_ROOT=<toolkit, e.g. /usr/local/cuda> -DCMAKE_CUDA_COMPILER=<toolkit>/bin/nvcc (cuDNN is optional: -DCAFFE2_USE_CUDNN=ON -DCUDNN_ROOT=<cuDNN>)")
set(_camkit_torch_where_hint
    "set CMAKE_PREFIX_PATH or Torch_DIR to LibTorch's CMake folder: for a pip-installed PyTorch the output of python -c 'import torch; print(torch.utils.cmake_prefix_path)'; Debian: libtorch-dev")

# Configures cmake/torch_probe in <current binary dir>/camkit_torch_probe. Sets, in the caller's scope,
# <prefix>_STATE (found, not-found or failed), <prefix>_DIR (TorchConfig.cmake's folder),
# <prefix>_INSTALL_PREFIX and <prefix>_REASON (the probe's first CMake error).
function(_camkit_probe_torch prefix)
    set(_bin "${CMAKE_CURRENT_BINARY_DIR}/camkit_torch_probe")
    file(REMOVE_RECURSE "${_bin}")
    file(MAKE_DIRECTORY "${_bin}")
    # The settings that decide where and whether LibTorch configures, as an initial cache (-C)
    # so that lists and spaces pass unchanged.
    set(_init "")
    foreach(_v IN ITEMS CMAKE_PREFIX_PATH CMAKE_FIND_ROOT_PATH CMAKE_LIBRARY_PATH CMAKE_INCLUDE_PATH
                        CMAKE_PROGRAM_PATH CMAKE_MAKE_PROGRAM CMAKE_CXX_COMPILER CMAKE_CUDA_COMPILER
                        CMAKE_CUDA_HOST_COMPILER CMAKE_CUDA_ARCHITECTURES CMAKE_CUDA_FLAGS
                        CMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY CMAKE_IGNORE_PATH
                        CMAKE_IGNORE_PREFIX_PATH CMAKE_SYSTEM_IGNORE_PATH
                        CMAKE_SYSTEM_IGNORE_PREFIX_PATH Torch_DIR Torch_ROOT Caffe2_DIR
                        CUDAToolkit_ROOT CUDA_TOOLKIT_ROOT_DIR CUDNN_ROOT CUDNN_ROOT_DIR
                        CUDNN_INCLUDE_DIR CUDNN_LIBRARY CAFFE2_USE_CUDNN USE_STATIC_CUDNN
                        CUDNN_INCLUDE_PATH CUDNN_LIBRARY_PATH TORCH_CUDA_ARCH_LIST USE_CUDNN
                        USE_CUSPARSELT USE_CUDSS USE_CUFILE)
        if(DEFINED ${_v})
            string(APPEND _init "set(${_v} [==[${${_v}}]==] CACHE STRING \"\")\n")
        endif()
    endforeach()
    file(WRITE "${_bin}/init.cmake" "${_init}")
    execute_process(COMMAND "${CMAKE_COMMAND}" -S "${CAMKIT_TORCH_PROBE_SOURCE}" -B "${_bin}/build"
                            -G "${CMAKE_GENERATOR}" -C "${_bin}/init.cmake"
                    RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
    file(WRITE "${_bin}/output.txt" "${_out}")

    set(_dir "")
    set(_install_prefix "")
    set(_reason "")
    if(_rc EQUAL 0 AND _out MATCHES "camkit-probe: not-found")
        set(_state not-found)
    elseif(_rc EQUAL 0 AND _out MATCHES "camkit-probe: Torch_DIR=([^\n]*)")
        set(_state found)
        set(_dir "${CMAKE_MATCH_1}")
        if(_out MATCHES "camkit-probe: TORCH_INSTALL_PREFIX=([^\n]*)")
            set(_install_prefix "${CMAKE_MATCH_1}")
        endif()
    else()
        set(_state failed)
        if(_out MATCHES "([^ \n]+)/TorchConfig\\.cmake")
            set(_dir "${CMAKE_MATCH_1}")
        endif()
        # The first error without its call stack (the probe's own files are no help to the user).
        string(FIND "${_out}" "CMake Error" _at)
        if(_at LESS 0)
            set(_at 0)
        endif()
        string(SUBSTRING "${_out}" ${_at} 1200 _reason)
        string(FIND "${_reason}" "Call Stack" _end)
        if(_end GREATER 0)
            string(SUBSTRING "${_reason}" 0 ${_end} _reason)
        endif()
        string(STRIP "${_reason}" _reason)
        string(APPEND _reason "\n(the probe's full output: ${_bin}/output.txt)")
    endif()
    set(${prefix}_STATE "${_state}" PARENT_SCOPE)
    set(${prefix}_DIR "${_dir}" PARENT_SCOPE)
    set(${prefix}_INSTALL_PREFIX "${_install_prefix}" PARENT_SCOPE)
    set(${prefix}_REASON "${_reason}" PARENT_SCOPE)
endfunction()

macro(camkit_find_torch)
    set(Torch_FOUND FALSE)
    if(CMAKE_DISABLE_FIND_PACKAGE_Torch)
        set(_camkit_torch_STATE not-found)
    elseif(DEFINED CACHE{CAMKIT_TORCH_CONFIGURED_DIR} AND "${Torch_DIR}" STREQUAL "${CAMKIT_TORCH_CONFIGURED_DIR}")
        # Configured before in this build folder: not probed again.
        set(_camkit_torch_STATE found)
        set(_camkit_torch_DIR "${CAMKIT_TORCH_CONFIGURED_DIR}")
        set(_camkit_torch_INSTALL_PREFIX "${CAMKIT_TORCH_CONFIGURED_PREFIX}")
    else()
        _camkit_probe_torch(_camkit_torch)
    endif()

    if(_camkit_torch_STATE STREQUAL "not-found")
        if(CAMKIT_WITH_TORCH STREQUAL "ON")
            message(FATAL_ERROR "camkit: CAMKIT_WITH_TORCH=ON but LibTorch (TorchConfig.cmake) was not found: ${_camkit_torch_where_hint}; or pass -DCAMKIT_WITH_TORCH=OFF")
        endif()
        message(STATUS "camkit: Torch not found, camkit::torch is not built")
    elseif(_camkit_torch_STATE STREQUAL "failed")
        set(_camkit_torch_text "camkit: the LibTorch at ${_camkit_torch_DIR} was found but its CMake configuration fails:\n${_camkit_torch_REASON}\n")
        if(_camkit_torch_REASON MATCHES "CUDA|cuDNN|CUDNN|nvcc")
            string(APPEND _camkit_torch_text "${_camkit_torch_cuda_hint}; or")
        else()
            string(APPEND _camkit_torch_text "Pass")
        endif()
        string(APPEND _camkit_torch_text " -DCAMKIT_WITH_TORCH=OFF to build camkit without camkit::torch.")
        if(CAMKIT_WITH_TORCH STREQUAL "ON")
            message(FATAL_ERROR "${_camkit_torch_text}")
        endif()
        message(WARNING "${_camkit_torch_text}\nCAMKIT_WITH_TORCH is AUTO: camkit::torch is not built.")
    else()
        set(Torch_DIR "${_camkit_torch_DIR}" CACHE PATH "The folder of LibTorch's TorchConfig.cmake")
        camkit_torch_paths_first("${_camkit_torch_DIR}")  # the library path stays in this scope
        # The prefix TorchConfig.cmake computed is <Torch_DIR>/../../.. for a wheel (prepended just
        # now); a LibTorch installed with another layout gets its own lib/ first too.
        if(_camkit_torch_INSTALL_PREFIX AND IS_DIRECTORY "${_camkit_torch_INSTALL_PREFIX}/lib"
           AND NOT "${_camkit_torch_INSTALL_PREFIX}/lib" IN_LIST CMAKE_LIBRARY_PATH)
            list(PREPEND CMAKE_LIBRARY_PATH "${_camkit_torch_INSTALL_PREFIX}/lib")
        endif()
        find_package(Torch REQUIRED)
        # A preset that is about a LibTorch of its own (torch2: the wheel's) must not go on with
        # another one found instead (Debian's 1.13, when CAMKIT_TORCH_PREFIX was not set).
        if(CAMKIT_TORCH_MIN_VERSION AND Torch_VERSION VERSION_LESS CAMKIT_TORCH_MIN_VERSION)
            # Not kept: a configure run again with the right prefix must search anew.
            unset(Torch_DIR CACHE)
            unset(Caffe2_DIR CACHE)
            unset(CAMKIT_TORCH_CONFIGURED_DIR CACHE)
            message(FATAL_ERROR "camkit: CAMKIT_TORCH_MIN_VERSION is ${CAMKIT_TORCH_MIN_VERSION} but the LibTorch found is ${Torch_VERSION} (${Torch_DIR}): ${_camkit_torch_where_hint} (the torch2 preset reads it from the environment variable CAMKIT_TORCH_PREFIX; scripts/test.sh sets it)")
        endif()
        set(CAMKIT_TORCH_CONFIGURED_DIR "${Torch_DIR}" CACHE INTERNAL "LibTorch configured in this build folder")
        set(CAMKIT_TORCH_CONFIGURED_PREFIX "${_camkit_torch_INSTALL_PREFIX}" CACHE INTERNAL "Its install prefix")
    endif()
endmacro()
