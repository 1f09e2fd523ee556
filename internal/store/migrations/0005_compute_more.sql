-- Compute, continued: a server's disk config (Nova's OS-DCF:diskConfig,
-- AUTO or MANUAL), kept from create, rebuild and resize.
ALTER TABLE servers ADD COLUMN disk_config TEXT NOT NULL DEFAULT 'MANUAL';
