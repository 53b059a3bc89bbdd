"""Every source package has its integration block type, named by the package (the CLI, enrollment, `--integration`
and the enroll/retire automations find blocks through the registry), and automations.yaml reacts to each of them."""

from __future__ import annotations

from pathlib import Path

import yaml
from prefect.events.schemas.automations import AutomationCore

from pmsync.integrations.blocks import INTEGRATION_BLOCKS
from pmsync.source.registry import SOURCE_PACKAGES, integration_block_types

AUTOMATIONS = Path(__file__).resolve().parents[2] / "automations.yaml"


def test_each_source_package_names_the_block_type_pmsync_blocks_defines_for_it():
    assert list(INTEGRATION_BLOCKS) == list(SOURCE_PACKAGES)
    for vendor, block in INTEGRATION_BLOCKS.items():
        package = SOURCE_PACKAGES[vendor]
        assert block.vendor == vendor
        assert (block.get_block_type_slug(), block.get_block_type_name()) == (package.block_type_slug,
                                                                              package.block_type_name)
    assert integration_block_types() == {"propertyware-integration": "Propertyware Integration",
                                         "buildium-integration": "Buildium Integration"}


def test_the_enroll_and_retire_automations_react_to_every_vendors_block_type():
    entries = yaml.safe_load(AUTOMATIONS.read_text(encoding="utf-8"))["automations"]
    reacting = {}
    for entry in entries:
        for action in entry.get("actions", []):
            if action.get("deployment") in ("enroll-integration/enroll", "retire-integration/retire"):
                trigger = AutomationCore.model_validate({**entry, "actions": []}).trigger
                reacting[action["deployment"]] = trigger.match_related.root["prefect.resource.name"]

    assert reacting == {deployment: list(integration_block_types().values())
                        for deployment in ("enroll-integration/enroll", "retire-integration/retire")}
