// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice The smallest smart account that can pay: whoever calls `execute` makes it call
/// out with its own ETH (tests only; a real account checks the EntryPoint or its owner).
contract MockSmartAccount {
    receive() external payable {}

    function execute(address to, uint256 value, bytes calldata data) external {
        (bool ok, bytes memory reason) = to.call{value: value}(data);
        if (!ok) {
            assembly {
                revert(add(reason, 32), mload(reason))
            }
        }
    }
}

/// @notice Stands in for the ERC-4337 EntryPoint at its real address: like `handleOps`, it
/// runs each account's call and records a failure instead of reverting, so the bundle
/// transaction succeeds even when a user operation inside it failed.
contract MockEntryPoint {
    event UserOperationEvent(address indexed sender, bool success);

    function handleOps(address[] calldata senders, bytes[] calldata callData) external {
        for (uint256 i = 0; i < senders.length; i++) {
            (bool success,) = senders[i].call(callData[i]);
            emit UserOperationEvent(senders[i], success);
        }
    }
}
