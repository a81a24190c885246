# Install rules: headers, the exported INTERFACE targets (one export set per component, so the
# package config can load a component only when its dependencies are found), the package config
# files and the license. Nothing else goes into the install tree (tests/package checks it).
option(CAMKIT_INSTALL "Generate camkit's install rules" ${PROJECT_IS_TOP_LEVEL})
if(NOT CAMKIT_INSTALL)
    return()
endif()

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Header-only and architecture independent, so the config lives under share/.
set(CAMKIT_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/cmake/camkit" CACHE STRING
    "Where camkitConfig.cmake is installed, relative to the prefix")
mark_as_advanced(CAMKIT_INSTALL_CMAKEDIR)

set(_camkit_installed_components core)
set(_camkit_include_roots "${PROJECT_SOURCE_DIR}/include")
if(TARGET camkit_io)
    list(APPEND _camkit_installed_components io)
    list(APPEND _camkit_include_roots "${PROJECT_SOURCE_DIR}/io/include")
endif()
if(TARGET camkit_xtensor)
    list(APPEND _camkit_installed_components xtensor)
    list(APPEND _camkit_include_roots "${PROJECT_SOURCE_DIR}/adapters/xtensor/include")
endif()
if(TARGET camkit_blas)
    list(APPEND _camkit_installed_components blas)
    list(APPEND _camkit_include_roots "${PROJECT_SOURCE_DIR}/adapters/blas/include")
endif()
if(TARGET camkit_torch)
    list(APPEND _camkit_installed_components torch)
    list(APPEND _camkit_include_roots "${PROJECT_SOURCE_DIR}/adapters/torch/include")
endif()

# Every include root merges into one include directory.
foreach(_root IN LISTS _camkit_include_roots)
    install(DIRECTORY "${_root}/" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
            COMPONENT camkit_headers FILES_MATCHING PATTERN "*.hpp")
endforeach()

# The exported link interfaces name only targets the consumer's find_package calls re-create
# (Boost::headers, Threads::Threads, xtensor, xtensor-blas, torch) and camkit's own targets of other
# components (camkit::core, camkit::io); the stb include directory is a BUILD_INTERFACE path that
# camkitConfig.cmake finds again, so no build path is exported.
foreach(_component IN LISTS _camkit_installed_components)
    install(TARGETS camkit_${_component} EXPORT camkit_${_component}_targets
            INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
    install(EXPORT camkit_${_component}_targets NAMESPACE camkit::
            FILE camkit-${_component}-targets.cmake
            DESTINATION "${CAMKIT_INSTALL_CMAKEDIR}" COMPONENT camkit_headers)
endforeach()

# 0.x: a minor release may break the API (semantic versioning), so only the same major.minor is
# compatible; from 1.0 on the same major is.
if(PROJECT_VERSION_MAJOR EQUAL 0)
    set(_camkit_compatibility SameMinorVersion)
else()
    set(_camkit_compatibility SameMajorVersion)
endif()
write_basic_package_version_file("${PROJECT_BINARY_DIR}/camkitConfigVersion.cmake"
    VERSION "${PROJECT_VERSION}" COMPATIBILITY ${_camkit_compatibility} ARCH_INDEPENDENT)

set(CAMKIT_INSTALLED_COMPONENTS "${_camkit_installed_components}")
configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/camkitConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/camkitConfig.cmake"
    INSTALL_DESTINATION "${CAMKIT_INSTALL_CMAKEDIR}"
    NO_SET_AND_CHECK_MACRO NO_CHECK_REQUIRED_COMPONENTS_MACRO)

install(FILES "${PROJECT_BINARY_DIR}/camkitConfig.cmake" "${PROJECT_BINARY_DIR}/camkitConfigVersion.cmake"
              "${CMAKE_CURRENT_LIST_DIR}/camkit_torch_paths.cmake"
        DESTINATION "${CAMKIT_INSTALL_CMAKEDIR}" COMPONENT camkit_headers)
install(FILES "${PROJECT_SOURCE_DIR}/LICENSE" DESTINATION "${CMAKE_INSTALL_DATADIR}/doc/camkit"
        COMPONENT camkit_headers)
