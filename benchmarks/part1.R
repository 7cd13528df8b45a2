# Part 1 of "Inspecting Internet Traffic" (Jacobs, 2014) in R, the way the post did it: read.csv,
# summary(), summary(factor()), aggregate() per sensor and day, stats::filter for the centred 7-day
# mean, and three faceted ggplot2 bar charts written with ggsave. A transcription of the post's steps
# (not its verbatim code), the R side of benchmarks/bench_part1.py.
#
#   Rscript benchmarks/part1.R marx.csv OUTDIR
suppressPackageStartupMessages({
  library(ggplot2)
  library(reshape)
})
args <- commandArgs(trailingOnly = TRUE)
out <- args[2]
dir.create(out, showWarnings = FALSE, recursive = TRUE)

marx <- read.csv(args[1], stringsAsFactors = TRUE)  # R < 4 read strings as factors, as in 2014
marx$datetime <- as.POSIXct(as.character(marx$datetime), format = "%Y-%m-%d %H:%M:%S", tz = "UTC")
print(summary(marx))
print(summary(factor(marx$type)))

marx$day <- as.Date(marx$datetime)
all.day <- aggregate(src ~ host + day, data = marx, FUN = length)
colnames(all.day) <- c("host", "day", "count")
gg <- ggplot(all.day, aes(day, count, fill = host)) +
  geom_bar(stat = "identity") + facet_wrap(~host, scales = "free") +
  theme_bw() + theme(legend.position = "none")
ggsave(file.path(out, "all-packets.png"), gg, width = 10, height = 6)

uniq.day <- aggregate(src ~ host + day, data = marx, FUN = function(x) length(unique(x)))
colnames(uniq.day) <- c("host", "day", "count")
gg <- ggplot(uniq.day, aes(day, count, fill = host)) +
  geom_bar(stat = "identity") + facet_wrap(~host, scales = "free") +
  theme_bw() + theme(legend.position = "none")
ggsave(file.path(out, "unique-hosts.png"), gg, width = 10, height = 6)

wide <- cast(uniq.day, day ~ host, value = "count", fill = 0)
ma <- do.call(rbind, lapply(setdiff(colnames(wide), "day"), function(h) {
  data.frame(host = h, day = wide$day,
             count = as.numeric(stats::filter(wide[[h]], rep(1 / 7, 7), sides = 2)))
}))
ma <- ma[!is.na(ma$count), ]
gg <- ggplot(ma, aes(day, count, fill = host)) +
  geom_bar(stat = "identity") + facet_wrap(~host) +
  theme_bw() + theme(legend.position = "none")
ggsave(file.path(out, "unique-seven-day.png"), gg, width = 10, height = 6)
