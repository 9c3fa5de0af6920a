# netpolicy_pkg_install_dir(<var> <module> <pkg-config variable> <fallback>)
#
# Sets the cache variable <var> to where files of a kind belong according to
# another package's .pc file (systemd's unit, catalog and tmpfiles
# directories, bash-completion's completionsdir), taken under OUR install
# prefix rather than the other package's. The result is relative to the
# prefix when it lies under it, so `cmake --install --prefix DIR` and
# DESTDIR both relocate it. <fallback> (relative) is used when pkg-config
# does not know the module. Override any of them with -D<var>=PATH.
function(netpolicy_pkg_install_dir var module variable fallback)
  if(DEFINED CACHE{${var}})
    return()
  endif()
  set(dir "${fallback}")
  if(PKG_CONFIG_EXECUTABLE)
    # systemd.pc puts units under ${root_prefix} (empty on Debian, i.e. /lib);
    # anchor it at our prefix too, or `--prefix DIR` would write to /lib.
    execute_process(
      COMMAND ${PKG_CONFIG_EXECUTABLE}
              --define-variable=prefix=${CMAKE_INSTALL_PREFIX}
              --define-variable=root_prefix=${CMAKE_INSTALL_PREFIX}
              --define-variable=datadir=${CMAKE_INSTALL_FULL_DATADIR}
              --variable=${variable} ${module}
      OUTPUT_VARIABLE found OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE failed ERROR_QUIET)
    if(NOT failed AND found)
      set(dir "${found}")
      string(LENGTH "${CMAKE_INSTALL_PREFIX}/" prefix_length)
      string(SUBSTRING "${dir}" 0 ${prefix_length} head)
      if(head STREQUAL "${CMAKE_INSTALL_PREFIX}/")
        string(SUBSTRING "${dir}" ${prefix_length} -1 dir)
      endif()
    else()
      message(STATUS "pkg-config has no ${variable} for ${module}; using ${fallback}")
    endif()
  endif()
  set(${var} "${dir}" CACHE PATH "Install directory: ${module}'s ${variable}")
endfunction()
