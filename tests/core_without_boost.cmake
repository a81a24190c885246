# Every core header but the method registry and the umbrella header compiles without Boost: the
# preprocessor's dependency list of each names no Boost header. Run as
#   cmake -DCXX=<compiler> -DINCLUDE_DIR=<include/> -P core_without_boost.cmake
file(GLOB_RECURSE _headers RELATIVE "${INCLUDE_DIR}" "${INCLUDE_DIR}/camkit/*.hpp")
set(_checked 0)
foreach(_h IN LISTS _headers)
    if(_h MATCHES "^camkit/(camkit|methods/registry)\\.hpp$")
        continue()
    endif()
    file(WRITE "${CMAKE_CURRENT_BINARY_DIR}/core_without_boost.cpp" "#include <${_h}>\n")
    execute_process(COMMAND "${CXX}" -std=c++20 -M -I "${INCLUDE_DIR}" "${CMAKE_CURRENT_BINARY_DIR}/core_without_boost.cpp"
                    OUTPUT_VARIABLE _deps ERROR_VARIABLE _err RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "core_without_boost: ${_h} does not preprocess: ${_err}")
    endif()
    if(_deps MATCHES "boost/")
        message(FATAL_ERROR "core_without_boost: ${_h} includes Boost; only camkit/methods/registry.hpp may")
    endif()
    math(EXPR _checked "${_checked} + 1")
endforeach()
if(_checked LESS 20)
    message(FATAL_ERROR "core_without_boost: only ${_checked} headers found under ${INCLUDE_DIR}")
endif()
message(STATUS "core_without_boost: ${_checked} core headers include no Boost header")
