# Every header under INCLUDE_DIR/camkit but those matching ALLOWED preprocesses without the headers
# matching FORBIDDEN: the preprocessor's dependency list of each names none of them. Run as
#   cmake -DCXX=<compiler> -DINCLUDE_DIR=<include root> -DWORK_DIR=<scratch folder> -DNAME=<test>
#         -DALLOWED=<regex of headers that may> -DFORBIDDEN=<regex of dependency paths>
#         -DWHAT=<what is forbidden, for messages> -DMIN=<fewest headers> [-DFLAGS=<@response file>]
#         -P headers_without.cmake
file(GLOB_RECURSE _headers RELATIVE "${INCLUDE_DIR}" "${INCLUDE_DIR}/camkit/*.hpp")
set(_flags)
if(FLAGS)
    set(_flags "${FLAGS}")
endif()
set(_checked 0)
foreach(_h IN LISTS _headers)
    if(_h MATCHES "${ALLOWED}")
        continue()
    endif()
    file(WRITE "${WORK_DIR}/${NAME}.cpp" "#include <${_h}>\n")
    execute_process(COMMAND "${CXX}" -std=c++20 -M -I "${INCLUDE_DIR}" ${_flags} "${WORK_DIR}/${NAME}.cpp"
                    OUTPUT_VARIABLE _deps ERROR_VARIABLE _err RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "${NAME}: ${_h} does not preprocess: ${_err}")
    endif()
    if(_deps MATCHES "${FORBIDDEN}")
        message(FATAL_ERROR "${NAME}: ${_h} includes ${WHAT} (${CMAKE_MATCH_0}); only headers matching ${ALLOWED} may")
    endif()
    math(EXPR _checked "${_checked} + 1")
endforeach()
if(_checked LESS MIN)
    message(FATAL_ERROR "${NAME}: only ${_checked} headers found under ${INCLUDE_DIR}, expected at least ${MIN}")
endif()
message(STATUS "${NAME}: ${_checked} headers include no ${WHAT}")
