# Everything a module run could change on a node, as one text (sh, no Python): the files under
# LifeKeeper's paths and the backup dir (the daemon's pid and log excluded), what lives in the
# temporary dirs, the resource states and the packages.
{
  find $R/opt/LifeKeeper $R/etc/default $R/var/LifeKeeper $R/var/backups $R/var/lib/lksim $R/root \
       -type f ! -name 'daemon.*' 2>/dev/null | sort | xargs -r sha256sum
  find $R/tmp $R/var/tmp 2>/dev/null | sort
  $R/opt/LifeKeeper/bin/lcdstatus -e
  rpm -qa | sort
} 2>&1
