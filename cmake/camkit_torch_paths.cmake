# LibTorch's TorchConfig.cmake finds its libraries (find_library(... PATHS <its prefix>/lib)) and
# its Caffe2Config.cmake (find_dependency(Caffe2 PATHS <its folder>/../Caffe2)) through PATHS,
# which CMake searches after CMAKE_PREFIX_PATH and the system folders: beside a system LibTorch
# (Debian's libtorch-dev) a pip wheel's TorchConfig.cmake takes the system's libtorch.so and
# Caffe2 configuration, and programs fail to link (two LibTorch versions in one link). These
# helpers put LibTorch's own folders first. camkit's build uses them (camkit_find_torch.cmake),
# and so does the installed camkitConfig.cmake, beside which this file is installed.

# Sets `out` to the folder of the TorchConfig.cmake that find_package(Torch) reads when a user
# names it: Torch_DIR (variable, else environment), else the first Torch_ROOT or CMAKE_PREFIX_PATH
# entry (variable, then environment, as find_package searches them) with a TorchConfig.cmake where
# config mode looks; "" otherwise (a LibTorch in a system folder finds its own libraries there).
function(camkit_locate_torch_config out)
    set(_found "")
    if(Torch_DIR AND EXISTS "${Torch_DIR}/TorchConfig.cmake")
        set(_found "${Torch_DIR}")
    elseif(NOT Torch_DIR AND DEFINED ENV{Torch_DIR} AND EXISTS "$ENV{Torch_DIR}/TorchConfig.cmake")
        set(_found "$ENV{Torch_DIR}")
    else()
        # find_package's order: Torch_ROOT (variable, then environment), then CMAKE_PREFIX_PATH
        # (variable, then environment).
        set(_prefixes ${Torch_ROOT})
        if(DEFINED ENV{Torch_ROOT})
            string(REPLACE ":" ";" _list "$ENV{Torch_ROOT}")
            list(APPEND _prefixes ${_list})
        endif()
        list(APPEND _prefixes ${CMAKE_PREFIX_PATH})
        if(DEFINED ENV{CMAKE_PREFIX_PATH})
            string(REPLACE ":" ";" _list "$ENV{CMAKE_PREFIX_PATH}")
            list(APPEND _prefixes ${_list})
        endif()
        foreach(_prefix IN LISTS _prefixes)
            foreach(_sub IN ITEMS "" cmake Torch Torch/cmake share/cmake/Torch lib/cmake/Torch lib64/cmake/Torch
                                  "lib/${CMAKE_LIBRARY_ARCHITECTURE}/cmake/Torch" share/Torch)
                if(_prefix AND EXISTS "${_prefix}/${_sub}/TorchConfig.cmake")
                    get_filename_component(_found "${_prefix}/${_sub}" ABSOLUTE)
                    break()
                endif()
            endforeach()
            if(_found)
                break()
            endif()
        endforeach()
    endif()
    set(${out} "${_found}" PARENT_SCOPE)
endfunction()

# For the TorchConfig.cmake in `torch_dir`: its prefix's lib/ goes first in CMAKE_LIBRARY_PATH (in
# the caller's scope; the previous value is kept in _camkit_torch_saved_library_path) and its
# sibling Caffe2 folder, where there is one, becomes Caffe2_DIR (a Caffe2 configuration of another
# LibTorch never fits; one cached by an earlier configure is replaced).
macro(camkit_torch_paths_first torch_dir)
    set(_camkit_torch_saved_library_path "${CMAKE_LIBRARY_PATH}")
    get_filename_component(_camkit_torch_prefix "${torch_dir}/../../.." ABSOLUTE)
    if(IS_DIRECTORY "${_camkit_torch_prefix}/lib")
        list(PREPEND CMAKE_LIBRARY_PATH "${_camkit_torch_prefix}/lib")
    endif()
    if(EXISTS "${torch_dir}/../Caffe2/Caffe2Config.cmake")
        get_filename_component(_camkit_caffe2_dir "${torch_dir}/../Caffe2" ABSOLUTE)
        set(Caffe2_DIR "${_camkit_caffe2_dir}" CACHE PATH "The folder of LibTorch's Caffe2Config.cmake" FORCE)
        unset(_camkit_caffe2_dir)
    endif()
    unset(_camkit_torch_prefix)
endmacro()

# Sets `out` to the lib/ folders of the nvidia/ packages beside a PyTorch wheel's LibTorch at
# `torch_prefix` (TORCH_INSTALL_PREFIX): its libtorch_cuda.so finds NCCL, cuDNN and the CUDA
# libraries there through its RPATH at run time, but the linker resolves them through the -rpath of
# the CUDA toolkit that TorchConfig.cmake adds first, which may hold older ones (libnccl.so.2 in
# /usr/local/cuda/lib): programs link with -rpath-link to each of these. Empty for other LibTorches.
function(camkit_torch_wheel_library_dirs out torch_prefix)
    set(_dirs "")
    if(torch_prefix)
        file(GLOB _dirs LIST_DIRECTORIES true "${torch_prefix}/../nvidia/*/lib")
    endif()
    set(${out} "${_dirs}" PARENT_SCOPE)
endfunction()
